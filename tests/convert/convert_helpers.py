"""Tiny random PyTorch reference models and the checkpoint layouts built from them.

The reference is Hugging Face transformers' VideoMAE (torch, CPU). Its weights are
re-randomised with a large spread so that outputs are O(1) and a wrong mapping shows.
The official and mmaction2 layouts are written out here by hand from SPEC 7 (not with
the converter's own renaming code), so a test checks the converter against the spec.
"""

import re

import numpy as np

TINY = dict(image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=64,
            num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
            decoder_hidden_size=32, decoder_num_hidden_layers=2, decoder_num_attention_heads=2,
            decoder_intermediate_size=64)
# Keras options the official/mmaction2 layouts cannot carry: tiny head counts and
# transformers' eps (1e-12 in the blocks, 1e-5 in fc_norm / decoder.norm).
TINY_OVERRIDES = dict(num_heads=2, layer_norm_eps=1e-12, fc_norm_eps=1e-5)
TINY_PT_OVERRIDES = dict(num_heads=2, decoder_num_heads=2, layer_norm_eps=1e-12, decoder_eps=1e-5)


def randomise(model, seed=0):
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            parts = name.split(".")
            if len(parts) > 1 and "norm" in parts[-2]:
                param.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * noise)
            else:
                param.copy_(0.2 * noise)
    return model.eval()


def hf_classifier(seed=0, use_mean_pooling=True, num_labels=5):
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    config = VideoMAEConfig(**TINY, num_labels=num_labels, use_mean_pooling=use_mean_pooling)
    return randomise(VideoMAEForVideoClassification(config), seed)


def hf_pretrainer(seed=1, use_mean_pooling=True):
    from transformers import VideoMAEConfig, VideoMAEForPreTraining

    config = VideoMAEConfig(**TINY, use_mean_pooling=use_mean_pooling)
    return randomise(VideoMAEForPreTraining(config), seed)


def clip(batch=2, seed=0):
    """A normalised clip (B, T, H, W, 3), channels-last (the Keras input)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, TINY["num_frames"], 32, 32, 3)).astype("float32")


def torch_clip(x):
    """(B, T, H, W, C) -> transformers' (B, T, C, H, W)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3)))


_BLOCK = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.output.dense": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "attention.attention.q_bias": "attn.q_bias",
    "attention.attention.query.bias": "attn.q_bias",
    "attention.attention.v_bias": "attn.v_bias",
    "attention.attention.value.bias": "attn.v_bias",
}


def official_state_dict(hf_model):
    """The official (MCG-NJU / OpenGVLab) key layout of a transformers VideoMAE model."""
    sd = {k: v.detach().clone() for k, v in hf_model.state_dict().items()}
    pretrain = any(k.startswith("decoder.") for k in sd)
    enc = "encoder." if pretrain else ""
    out = {}
    qkv = {}
    for key, value in sd.items():
        m = re.match(r"^(videomae\.encoder\.layer|decoder\.decoder_layers)\.(\d+)\.(.+)$", key)
        if m:
            prefix = enc if m.group(1).startswith("videomae") else "decoder."
            block = f"{prefix}blocks.{m.group(2)}."
            inner = m.group(3)
            part = re.match(r"^attention\.attention\.(query|key|value)\.weight$", inner)
            if part:
                qkv.setdefault(block, {})[part.group(1)] = value
                continue
            for old, new in _BLOCK.items():
                if inner.startswith(old + ".") or inner == old:
                    out[block + new + inner[len(old):]] = value
                    break
            else:
                raise KeyError(key)
        elif key.startswith("videomae.embeddings.patch_embeddings.projection."):
            out[enc + "patch_embed.proj." + key.rsplit(".", 1)[1]] = value
        elif key.startswith("videomae.layernorm."):
            out[enc + "norm." + key.rsplit(".", 1)[1]] = value
        elif key.startswith("classifier."):
            out["head." + key.rsplit(".", 1)[1]] = value
        else:  # fc_norm, encoder_to_decoder, mask_token, decoder.norm, decoder.head
            out[key] = value
    import torch

    for block, parts in qkv.items():
        out[block + "attn.qkv.weight"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    return out


def mmaction2_state_dict(hf_classifier_model):
    """mmaction2's recognizer layout (backbone. / cls_head.fc_cls, stored pos_embed)."""
    from videomae_tf.models.layers import sinusoid_table
    import torch

    out = {}
    for key, value in official_state_dict(hf_classifier_model).items():
        if key.startswith("head."):
            out["cls_head.fc_cls." + key[5:]] = value
            continue
        key = key.replace("patch_embed.proj.", "patch_embed.projection.")
        key = key.replace(".mlp.fc1.", ".mlp.layers.0.0.").replace(".mlp.fc2.", ".mlp.layers.1.")
        out["backbone." + key] = value
    out["backbone.pos_embed"] = torch.from_numpy(sinusoid_table(8, 64))[None]
    out["data_preprocessor.mean"] = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1, 1)
    out["data_preprocessor.std"] = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1, 1)
    return out

"""CatMAE: 2-D patch kernel inflated over the tubelet, spatial positions repeated over time,
CLS token kept, mean pooling without the CLS token (CatMAE's K400 fine-tuning model)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from checkpoints_convert import convert
from videomae_tf.models.naming import official_weights

D, HEADS, DEPTH, HIDDEN = 64, 2, 2, 128


def catmae_state_dict(seed=0):
    """A tiny CatMAE pretraining checkpoint: timm ViT encoder (full qkv bias, CLS token,
    1 + 2x2 position rows) plus decoder tensors the converter must list as ignored."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, base=0.0, scale=0.2):
        return base + scale * torch.randn(shape, generator=g)

    sd = {"cls_token": r(1, 1, D), "pos_embed": r(1, 5, D),
          "patch_embed.proj.weight": r(D, 3, 16, 16, scale=0.05), "patch_embed.proj.bias": r(D)}
    for i in range(DEPTH):
        b = f"blocks.{i}."
        sd.update({
            b + "norm1.weight": r(D, base=1.0), b + "norm1.bias": r(D),
            b + "attn.qkv.weight": r(3 * D, D), b + "attn.qkv.bias": r(3 * D, scale=0.5),
            b + "attn.proj.weight": r(D, D), b + "attn.proj.bias": r(D),
            b + "norm2.weight": r(D, base=1.0), b + "norm2.bias": r(D),
            b + "mlp.fc1.weight": r(HIDDEN, D), b + "mlp.fc1.bias": r(HIDDEN),
            b + "mlp.fc2.weight": r(D, HIDDEN), b + "mlp.fc2.bias": r(D),
        })
    sd.update({"norm.weight": r(D, base=1.0), "norm.bias": r(D),
               "decoder_embed.weight": r(32, D), "decoder_embed.bias": r(32),
               "mask_token": r(1, 1, 32), "decoder_pos_embed": r(1, 5, 32),
               "decoder_blocks.0.self_attn.in_proj_weight": r(96, 32),
               "decoder_norm.weight": r(32), "decoder_pred.weight": r(768, 32),
               "decoder_frame_info": r(2, 1, 1, 32)})
    return sd


def reference_forward(sd, fc_norm, head, clip, slots):
    """CatMAE's fine-tuning forward (modeling_finetune_2d_vit), computed directly:
    the patch embedding is the 2-D conv of each frame averaged over the tubelet (what the
    inflated kernel means), positions are the spatial table repeated over time."""
    x = torch.from_numpy(clip).permute(0, 1, 4, 2, 3)  # B, T, C, H, W
    b, t = x.shape[:2]
    frames = F.conv2d(x.reshape(b * t, 3, 32, 32), sd["patch_embed.proj.weight"], stride=16)
    frames = frames.reshape(b, t // 2, 2, D, -1).mean(2) + sd["patch_embed.proj.bias"][:, None]
    tokens = frames.permute(0, 1, 3, 2).reshape(b, -1, D)  # time outermost
    pos = sd["pos_embed"]
    tokens = tokens + pos[:, 1:].repeat(1, slots, 1)
    x = torch.cat([(sd["cls_token"] + pos[:, :1]).expand(b, -1, -1), tokens], 1)
    for i in range(DEPTH):
        p = lambda n: sd[f"blocks.{i}.{n}"]  # noqa: E731
        h = F.layer_norm(x, (D,), p("norm1.weight"), p("norm1.bias"), 1e-6)
        qkv = F.linear(h, p("attn.qkv.weight"), p("attn.qkv.bias"))  # k bias included
        q, k, v = qkv.reshape(b, -1, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
        a = ((q * (D // HEADS) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        x = x + F.linear((a @ v).transpose(1, 2).reshape(b, -1, D), p("attn.proj.weight"), p("attn.proj.bias"))
        h = F.layer_norm(x, (D,), p("norm2.weight"), p("norm2.bias"), 1e-6)
        x = x + F.linear(F.gelu(F.linear(h, p("mlp.fc1.weight"), p("mlp.fc1.bias"))),
                         p("mlp.fc2.weight"), p("mlp.fc2.bias"))
    pooled = F.layer_norm(x[:, 1:].mean(1), (D,), *fc_norm, 1e-6)
    return F.linear(pooled, *head).numpy()


@pytest.mark.parametrize("frames", [4, 8])
def test_catmae_inflation_and_forward(frames, tmp_path):
    sd = catmae_state_dict()
    path = tmp_path / "catmae_vit_tiny.pth"
    torch.save({"model": sd}, path)
    result = convert(path, tmp_path / "cat.weights.h5", num_classes=6, num_frames=frames,
                     progress=False, log=None, overrides={"num_heads": HEADS})
    model, slots = result.model, frames // 2
    assert result.config["use_cls_token"] and result.config["learned_pos_embed"]
    assert result.config["img_size"] == [32, 32]  # from the 2x2 position grid
    w = {k: np.asarray(v) for k, v in official_weights(model).items()}

    # Inflation, checked directly: (t, p, p, C, D) kernel = 2-D kernel / 2 in both slots.
    kernel2d = sd["patch_embed.proj.weight"].numpy()
    expected = np.stack([kernel2d / 2, kernel2d / 2], axis=2).transpose(2, 3, 4, 1, 0)
    np.testing.assert_allclose(w["patch_embed.proj.weight"], expected, rtol=1e-6, atol=0)
    pos = sd["pos_embed"].numpy()[0]
    table = np.concatenate([pos[:1]] + [pos[1:]] * slots)[None]
    np.testing.assert_array_equal(w["pos_embed"], table)
    np.testing.assert_array_equal(w["cls_token"], sd["cls_token"].numpy())
    qkv_bias = sd["blocks.1.attn.qkv.bias"].numpy()
    np.testing.assert_array_equal(w["blocks.1.attn.q_bias"], qkv_bias[:D])
    np.testing.assert_array_equal(w["blocks.1.attn.v_bias"], qkv_bias[2 * D:])

    # Accounting: decoder + final norm ignored, fc_norm and head fresh.
    assert {"decoder_embed.weight", "mask_token", "decoder_frame_info", "norm.weight"} <= set(result.ignored)
    assert set(result.fresh) == {"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"}

    clip = np.random.default_rng(1).standard_normal((2, frames, 32, 32, 3)).astype("float32")
    fc_norm = [torch.from_numpy(w["fc_norm.weight"]), torch.from_numpy(w["fc_norm.bias"])]
    head = [torch.from_numpy(w["head.weight"].T.copy()), torch.from_numpy(w["head.bias"])]
    ref = reference_forward(sd, fc_norm, head, clip, slots)
    got = np.asarray(model(clip))
    # the head is freshly initialised small (x0.001): compare the pooled features too
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    feats = np.asarray(model.forward_features(clip))
    ref_feats = reference_forward(sd, fc_norm, [torch.eye(D), torch.zeros(D)], clip, slots)
    np.testing.assert_allclose(feats, ref_feats, atol=1e-4, rtol=0)


def test_catmae_to_pretrain_is_refused(tmp_path):
    from checkpoints_convert import ConversionError

    path = tmp_path / "catmae.pth"
    torch.save(catmae_state_dict(), path)
    with pytest.raises(ConversionError, match="--task pretrain"):
        convert(path, None, task="pretrain", progress=False, log=None, overrides={"num_heads": HEADS})

"""The config of every released architecture is read off tensor shapes alone
(shape-only tensors: nothing is allocated)."""

import pytest

from checkpoints_convert.detect import infer_config
from checkpoints_convert.layouts import canonicalize
from checkpoints_convert.reader import LazyTensor, Source

ARCHS = {  # width, depth, patch, MLP hidden
    "vit_s": (384, 12, 16, 1536), "vit_b": (768, 12, 16, 3072), "vit_l": (1024, 24, 16, 4096),
    "vit_h": (1280, 32, 16, 5120), "vit_g": (1408, 40, 14, 6144),
}


def shapes(width, depth, patch, hidden, prefix=""):
    out = {prefix + "patch_embed.proj.weight": (width, 3, 2, patch, patch),
           prefix + "patch_embed.proj.bias": (width,)}
    for i in range(depth):
        b = f"{prefix}blocks.{i}."
        out.update({b + "norm1.weight": (width,), b + "attn.qkv.weight": (3 * width, width),
                    b + "attn.q_bias": (width,), b + "attn.v_bias": (width,),
                    b + "mlp.fc1.weight": (hidden, width), b + "mlp.fc2.weight": (width, hidden)})
    return out


def decoder(width, depth, hidden, outputs, encoder_width):
    out = {"mask_token": (1, 1, width), "encoder_to_decoder.weight": (width, encoder_width),
           "decoder.norm.weight": (width,), "decoder.head.weight": (outputs, width)}
    for j in range(depth):
        out[f"decoder.blocks.{j}.mlp.fc1.weight"] = (hidden, width)
    return out


def source(shape_map):
    tensors = {k: LazyTensor(v, None, (k,)) for k, v in shape_map.items()}
    return Source(path="x.pth", format="torch-zip", tensors=tensors, container="module")


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_finetuned_architectures(arch):
    width, depth, patch, hidden = ARCHS[arch]
    classes = 710 if arch == "vit_g" else 400
    sd = dict(shapes(width, depth, patch, hidden), **{"fc_norm.weight": (width,),
                                                      "head.weight": (classes, width)})
    config, info = infer_config(canonicalize(source(sd)), "finetune")
    assert info["arch"] == arch and info["source_task"] == "finetune"
    assert config["num_classes"] == classes and config["use_mean_pooling"]
    assert int(width * config["mlp_ratio"]) == hidden
    assert config["num_heads"] == {"vit_s": 6, "vit_b": 12}.get(arch, 16)
    assert config["head_dim"] is None and "layer_norm_eps" not in config  # official: 1e-6 default
    assert config["num_frames"] == 16 and config["img_size"] == [224, 224]


@pytest.mark.parametrize("arch,dwidth,ddepth,dheads", [
    ("vit_s", 192, 4, 3), ("vit_b", 384, 4, 6), ("vit_l", 512, 12, 8), ("vit_l", 512, 4, 8),
    ("vit_h", 640, 12, 8), ("vit_h", 512, 4, 8), ("vit_g", 512, 4, 8),
])
def test_pretrained_architectures(arch, dwidth, ddepth, dheads):
    width, depth, patch, hidden = ARCHS[arch]
    outputs = 3 * 2 * patch * patch
    dhidden = int(dwidth * hidden / width)
    sd = dict(shapes(width, depth, patch, hidden, "_orig_mod.encoder."),
              **{"_orig_mod.encoder.norm.weight": (width,)},
              **{"_orig_mod." + k: v for k, v in decoder(dwidth, ddepth, dhidden, outputs, width).items()})
    canon = canonicalize(source(sd))
    assert canon.kind == "pretrain"
    config, info = infer_config(canon, "pretrain")
    assert info["arch"] == arch
    assert (config["decoder_embed_dim"], config["decoder_depth"], config["decoder_num_heads"]) == (dwidth, ddepth, dheads)
    assert int(dwidth * config["decoder_mlp_ratio"]) == dhidden
    assert config["encoder_final_norm"] is True

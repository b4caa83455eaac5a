"""The model config of a checkpoint, read off its tensor shapes (and config.json if any).

Shapes give the width (patch kernel rows), depth (block count), patch and tubelet sizes
(kernel), MLP width, q/v biases, layer scale, cosine attention, CLS token, class count and
the decoder's width, depth and output size. Head counts are not visible in the weights:
they come from config.json (transformers), from the named architecture whose width, depth
and patch match (docs/numerics.md#architectures), or from ``--set num_heads=N``. Frames and image size
come from the flags, config.json, a stored position table, or default to 16 x 224.
"""

import collections
import re

from checkpoints_convert.errors import ConversionError

# Decoder heads of the official pretraining models, by decoder width (docs/numerics.md#architectures).
DECODER_HEADS = {192: 3, 384: 6, 512: 8, 640: 8}

HF_EPS_FC_NORM = 1e-5  # transformers' fc_norm and decoder.norm are nn.LayerNorm(dim)


def _architectures():
    from videomae_tf.models.architectures import ARCHITECTURES

    return ARCHITECTURES


def mlp_ratio_for(hidden, dim, preferred=()):
    """A ratio r with int(dim * r) == hidden (what the Keras Mlp computes)."""
    for ratio in tuple(preferred) + (hidden / dim,):
        if int(dim * ratio) == hidden:
            return float(ratio)
    return (hidden + 0.5) / dim


def count_blocks(group, prefix="blocks."):
    indices = {int(m.group(1)) for k in group if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(indices) + 1 if indices else 0


def match_arch(dim, depth, patch):
    for name, spec in _architectures().items():
        enc = spec["encoder"]
        if (enc["embed_dim"], enc["depth"], enc["patch_size"]) == (dim, depth, patch):
            return name
    return None


def _pair(size):
    if isinstance(size, (list, tuple)):
        return int(size[0]), int(size[-1])
    return int(size), int(size)


def resolve_frames(num_frames, img_size, hf, patch, tubelet, stored_tokens=None, spatial_tokens=None):
    """(num_frames, (H, W)) from the flags, config.json or a stored position table."""
    if img_size is None and hf is not None:
        img_size = hf.get("image_size", 224)
    if img_size is None and spatial_tokens:
        side = int(round(spatial_tokens ** 0.5))
        if side * side == spatial_tokens:
            img_size = side * patch
    img = _pair(img_size if img_size is not None else 224)
    if num_frames is None and hf is not None:
        num_frames = hf.get("num_frames", 16)
    if num_frames is None and stored_tokens:
        per_slot = (img[0] // patch) * (img[1] // patch)
        if per_slot and stored_tokens % per_slot == 0:
            num_frames = stored_tokens // per_slot * tubelet
    return int(num_frames if num_frames is not None else 16), img


def infer_config(canon, task, hf=None, arch="auto", num_frames=None, img_size=None,
                 num_classes=None, overrides=None):
    """(config for VideoMAEClassifier/VideoMAEPretrainer, info) of a canonical checkpoint."""
    overrides = dict(overrides or {})
    enc = canon.encoder
    kernel = enc.get("patch_embed.proj.weight")
    if kernel is None:
        keys = sorted(enc)[:8]
        raise ConversionError(
            f"no patch embedding in the checkpoint (patch_embed.proj.weight, or its "
            f"mmaction2/transformers/CatMAE name); is this a VideoMAE checkpoint? "
            f"It holds {keys}{'...' if len(enc) > 8 else ''}"
        )
    if len(kernel.shape) != 5 or kernel.shape[3] != kernel.shape[4]:
        raise ConversionError(
            f"patch_embed.proj.weight has shape {kernel.shape}; expected a Conv3d kernel "
            f"[D, C, tubelet, p, p]"
        )
    dim, chans, tubelet, patch, _ = kernel.shape
    depth = count_blocks(enc)
    if depth == 0:
        raise ConversionError("the checkpoint has no transformer blocks (blocks.0...)")
    block_widths = collections.Counter(
        enc[key].shape[0] for key in enc if re.fullmatch(r"blocks\.\d+\.norm1\.weight", key))
    if block_widths and dim not in block_widths:  # blame the odd tensor, not every other one
        width = block_widths.most_common(1)[0][0]
        raise ConversionError(
            f"patch_embed.proj.weight has shape {kernel.shape} (width {dim}), but the blocks "
            f"are {width} wide (blocks.N.norm1.weight): the patch embedding is mis-shaped")
    info = {"layout": canon.layout, "source_task": canon.kind}

    detected = match_arch(dim, depth, patch)
    if arch not in (None, "auto"):
        spec = _architectures().get(arch)
        if spec is None:
            raise ConversionError(f"unknown --arch {arch!r}; known: {sorted(_architectures())}")
        want = spec["encoder"]
        if (want["embed_dim"], want["depth"], want["patch_size"]) != (dim, depth, patch):
            raise ConversionError(
                f"--arch {arch} is width {want['embed_dim']}, depth {want['depth']}, patch "
                f"{want['patch_size']}, but the checkpoint has width {dim}, depth {depth}, "
                f"patch {patch}"
            )
        detected = arch
    info["arch"] = detected or "custom"
    table = _architectures()[detected]["encoder"] if detected else {}

    fc1 = enc.get("blocks.0.mlp.fc1.weight")
    qkv = enc.get("blocks.0.attn.qkv.weight")
    if fc1 is None or qkv is None:
        raise ConversionError(
            "block 0 lacks its MLP or qkv weight (blocks.0.mlp.fc1.weight / "
            "blocks.0.attn.qkv.weight); the checkpoint is incomplete"
        )
    scale = enc.get("blocks.0.attn.scale")

    if "num_heads" in overrides:
        heads = int(overrides["num_heads"])
    elif hf is not None:
        heads = int(hf["num_attention_heads"])
    elif table:
        heads = table["num_heads"]
    elif scale is not None:
        heads = int(scale.shape[0])
    else:
        raise ConversionError(
            f"width {dim}, depth {depth}, patch {patch} is no named architecture "
            f"({', '.join(_architectures())}), and the number of attention heads cannot be "
            f"read from the weights: pass it with --set num_heads=N"
        )
    inner = qkv.shape[0] // 3
    config = dict(
        img_size=None, patch_size=patch, num_frames=None, tubelet_size=tubelet, in_chans=chans,
        embed_dim=dim, depth=depth, num_heads=heads,
        mlp_ratio=mlp_ratio_for(fc1.shape[0], dim, [table["mlp_ratio"]] if "mlp_ratio" in table else ()),
        qkv_bias="blocks.0.attn.q_bias" in enc,
        head_dim=inner // heads if inner != dim else None,
        init_values=1e-5 if "blocks.0.gamma_1" in enc else 0.0,
        cosine_attention=scale is not None,
        use_cls_token="cls_token" in enc,
        learned_pos_embed="pos_embed" in enc,
    )
    if hf is not None:
        if hf.get("hidden_act", "gelu") != "gelu":
            raise ConversionError(
                f"config.json has hidden_act {hf['hidden_act']!r}; VideoMAE uses exact GELU ('gelu')"
            )
        config["layer_norm_eps"] = float(hf.get("layer_norm_eps", 1e-12))

    spatial = None
    if config["learned_pos_embed"]:
        spatial = (enc["pos_embed"].shape[1] - 1)
        slots = canon.slots or 1
        spatial //= slots
    frames, img = resolve_frames(num_frames, img_size, hf, patch, tubelet,
                                 canon.stored_tokens, spatial)
    config["num_frames"], config["img_size"] = frames, list(img)

    if task == "finetune":
        head = canon.classifier.get("head.weight") if canon.kind == "finetune" else None
        if hf is not None:
            pooling = bool(hf.get("use_mean_pooling", True))
        elif canon.kind == "finetune":
            pooling = "fc_norm.weight" in canon.classifier or "norm.weight" not in enc
        else:
            pooling = True
        config.update(
            num_classes=int(num_classes if num_classes is not None else (head.shape[0] if head is not None else 400)),
            use_mean_pooling=pooling,
        )
        if hf is not None:
            config["fc_norm_eps"] = HF_EPS_FC_NORM if pooling else config["layer_norm_eps"]
        info["classes_from"] = ("--num-classes" if num_classes is not None else
                                "the checkpoint's head" if head is not None else "default (400)")
    else:
        dec = canon.decoder
        if "mask_token" in dec:
            width = dec["mask_token"].shape[-1]
        elif "encoder_to_decoder.weight" in dec:
            width = dec["encoder_to_decoder.weight"].shape[0]
        else:
            raise ConversionError("the checkpoint has no mask_token / encoder_to_decoder.weight")
        ddepth = count_blocks(dec, "decoder.blocks.")
        dfc1 = dec.get("decoder.blocks.0.mlp.fc1.weight")
        if "decoder_num_heads" in overrides:
            dheads = int(overrides["decoder_num_heads"])
        elif hf is not None:
            dheads = int(hf["decoder_num_attention_heads"])
        elif width in DECODER_HEADS:
            dheads = DECODER_HEADS[width]
        else:
            raise ConversionError(
                f"decoder width {width} is not one of the official decoders "
                f"({sorted(DECODER_HEADS)}); pass its heads with --set decoder_num_heads=N"
            )
        head = dec.get("decoder.head.weight")
        expected = 3 * tubelet * patch * patch
        if head is not None and head.shape[0] != expected:
            raise ConversionError(
                f"decoder.head.weight has {head.shape[0]} outputs; a VideoMAE decoder predicts "
                f"3 * tubelet * p * p = {expected} values per token"
            )
        if num_classes is not None:
            raise ConversionError("--num-classes applies to --task finetune only")
        config.update(
            decoder_embed_dim=int(width),
            decoder_depth=int(ddepth),
            decoder_num_heads=dheads,
            decoder_mlp_ratio=mlp_ratio_for(dfc1.shape[0], width, [config["mlp_ratio"]]) if dfc1 is not None else None,
            encoder_final_norm="norm.weight" in enc,
        )
        if hf is not None:
            config["decoder_eps"] = HF_EPS_FC_NORM
            config["normalize_target"] = bool(hf.get("norm_pix_loss", True))
        if config["use_cls_token"] or config["learned_pos_embed"]:
            raise ConversionError(
                "a checkpoint with a CLS token / learned position table (CatMAE) converts to "
                "a classifier only: use --task finetune"
            )
        config.pop("use_cls_token")
        config.pop("learned_pos_embed")
    for key, value in overrides.items():
        config[key] = value
    return config, info

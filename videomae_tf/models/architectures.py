"""Named architectures (encoder sizes: ``docs/numerics.md#tubelet-embedding``; decoders:
``docs/numerics.md#pretraining-decoder``) and the factories built from them.

Architectures are data: ``ARCHITECTURES`` holds the encoder of each size and the
decoder of its pretraining model for V1 and V2. ``VideoMAE_ViTB16FT(num_classes=174)``
and friends build models from that table with keyword overrides.
"""

import keras

from videomae_tf.errors import InputError, OptionError
from videomae_tf.models.backbone import BACKBONE_DEFAULTS, VideoMAEBackbone
from videomae_tf.models.classifier import CLASSIFIER_DEFAULTS, VideoMAEClassifier
from videomae_tf.models.pretrainer import PRETRAINER_DEFAULTS, VideoMAEPretrainer

ARCHITECTURES = {
    "vit_s": dict(
        encoder=dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
        decoder={"v1": dict(decoder_embed_dim=192, decoder_num_heads=3, decoder_depth=4),
                 "v2": dict(decoder_embed_dim=192, decoder_num_heads=3, decoder_depth=4)},
    ),
    "vit_b": dict(
        encoder=dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
        decoder={"v1": dict(decoder_embed_dim=384, decoder_num_heads=6, decoder_depth=4),
                 "v2": dict(decoder_embed_dim=384, decoder_num_heads=6, decoder_depth=4)},
    ),
    "vit_l": dict(
        encoder=dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16),
        decoder={"v1": dict(decoder_embed_dim=512, decoder_num_heads=8, decoder_depth=12),
                 "v2": dict(decoder_embed_dim=512, decoder_num_heads=8, decoder_depth=4)},
    ),
    "vit_h": dict(
        encoder=dict(patch_size=16, embed_dim=1280, depth=32, num_heads=16),
        decoder={"v1": dict(decoder_embed_dim=640, decoder_num_heads=8, decoder_depth=12),
                 "v2": dict(decoder_embed_dim=512, decoder_num_heads=8, decoder_depth=4)},
    ),
    "vit_g": dict(
        encoder=dict(patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=48 / 11),
        decoder={"v2": dict(decoder_embed_dim=512, decoder_num_heads=8, decoder_depth=4)},
    ),
}


def _check_options(options, allowed, what):
    unknown = set(options) - set(allowed) - {"name", "dtype", "trainable"}
    if unknown:
        raise OptionError(f"unknown {what} options {sorted(unknown)}; allowed: {sorted(allowed)}")


def architecture_name(config: dict) -> str | None:
    """The display name of the named architecture ``config``'s encoder matches, or None."""
    from videomae_tf.zoo import DISPLAY_NAMES

    for arch, table in ARCHITECTURES.items():
        wanted = {"mlp_ratio": 4.0, **table["encoder"]}
        if all(config.get(key) == value for key, value in wanted.items()):
            return DISPLAY_NAMES[arch]
    return None


def _architecture(arch) -> dict:
    if arch not in ARCHITECTURES:
        raise InputError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch]


def finetune_model(arch, **overrides):
    """A classifier of a named architecture ("vit_s", ... "vit_g") with overrides."""
    encoder = _architecture(arch)["encoder"]
    _check_options(overrides, CLASSIFIER_DEFAULTS, "fine-tuning model")
    return VideoMAEClassifier(**dict(encoder, **overrides))


def backbone_model(arch, **overrides):
    """A ``VideoMAEBackbone`` of a named architecture with overrides."""
    encoder = _architecture(arch)["encoder"]
    _check_options(overrides, BACKBONE_DEFAULTS, "backbone")
    return VideoMAEBackbone(**dict(encoder, **overrides))


def pretrain_model(arch, version="v1", **overrides):
    """A masked autoencoder of a named architecture; ``version`` picks V1 or V2's decoder."""
    decoders = _architecture(arch)["decoder"]
    if version not in decoders:
        raise InputError(f"{arch} has no {version} pretraining model; known: {sorted(decoders)}")
    _check_options(overrides, PRETRAINER_DEFAULTS, "pretraining model")
    config = dict(ARCHITECTURES[arch]["encoder"], **decoders[version])
    config.update(overrides)
    return VideoMAEPretrainer(**config)


def model_from_config(config):
    """Build a model from a config dict: ``{"task": "finetune"|"pretrain"|"backbone"|
    "micro_action", ...options}``.

    ``arch`` (optional) starts from a named architecture; the other keys override.
    This is the format of the JSON sidecar the converter writes next to its outputs.
    """
    config = dict(config)
    task = config.pop("task", "finetune")
    arch = config.pop("arch", None)
    version = config.pop("version", "v1")
    if task == "finetune":
        return finetune_model(arch, **config) if arch else VideoMAEClassifier(**config)
    if task == "pretrain":
        return pretrain_model(arch, version, **config) if arch else VideoMAEPretrainer(**config)
    if task == "backbone":
        return backbone_model(arch, **config) if arch else VideoMAEBackbone(**config)
    if task == "micro_action":
        from videomae_tf.models.micro_action import MicroActionModel

        backbone = dict(config.pop("backbone", None) or {})
        if arch:
            backbone = dict(_architecture(arch)["encoder"], **backbone)
        return MicroActionModel(backbone=backbone, **config)
    raise InputError(f"config 'task' must be 'finetune', 'pretrain', 'backbone' or "
                     f"'micro_action', got {task!r}")


def VideoMAE_ViTS16FT(**kwargs):
    """ViT-S/16 classifier (22.0M parameters with 400 classes)."""
    return finetune_model("vit_s", **kwargs)


def VideoMAE_ViTB16FT(**kwargs):
    """ViT-B/16 classifier (86.5M parameters with 400 classes)."""
    return finetune_model("vit_b", **kwargs)


def VideoMAE_ViTL16FT(**kwargs):
    """ViT-L/16 classifier (304.3M parameters with 400 classes)."""
    return finetune_model("vit_l", **kwargs)


def VideoMAE_ViTH16FT(**kwargs):
    """ViT-H/16 classifier (632.1M parameters with 400 classes)."""
    return finetune_model("vit_h", **kwargs)


def VideoMAE_ViTG14FT(**kwargs):
    """VideoMAE V2 ViT-g/14 classifier (1.01B parameters with 710 classes)."""
    kwargs.setdefault("num_classes", 710)
    return finetune_model("vit_g", **kwargs)


def VideoMAE_ViTS16PT(version="v1", **kwargs):
    """ViT-S/16 masked autoencoder (decoder 192 wide, 4 deep)."""
    return pretrain_model("vit_s", version, **kwargs)


def VideoMAE_ViTB16PT(version="v1", **kwargs):
    """ViT-B/16 masked autoencoder (decoder 384 wide, 4 deep)."""
    return pretrain_model("vit_b", version, **kwargs)


def VideoMAE_ViTL16PT(version="v1", **kwargs):
    """ViT-L/16 masked autoencoder (decoder 512 wide; 12 deep in V1, 4 in V2)."""
    return pretrain_model("vit_l", version, **kwargs)


def VideoMAE_ViTH16PT(version="v1", **kwargs):
    """ViT-H/16 masked autoencoder (V1: decoder 640 x 12; V2: 512 x 4)."""
    return pretrain_model("vit_h", version, **kwargs)


def VideoMAE_ViTG14PT(version="v2", **kwargs):
    """VideoMAE V2 ViT-g/14 masked autoencoder (decoder 512 x 4)."""
    return pretrain_model("vit_g", version, **kwargs)


def count_parameters(factory, **kwargs):
    """Parameter count of ``factory(**kwargs)`` without allocating its weights.

    Builds the model in a ``keras.StatelessScope`` that defers variable creation, then
    forgets the deferred variables, so a 1B-parameter ViT-g is counted in a second.
    """
    from keras.src.backend.common import global_state

    before = list(global_state.get_global_attribute("uninitialized_variables", []) or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            return factory(**kwargs).count_params()
    finally:
        global_state.set_global_attribute("uninitialized_variables", before)

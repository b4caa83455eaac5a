"""Checks of model constructor options: a wrong value is one InputError (a ValueError)
naming the option, before any layer is built (instead of a ZeroDivisionError or a Keras
layer's complaint)."""

from __future__ import annotations

import inspect
import math
import numbers

from videomae_tf.errors import InputError, OptionError

__all__ = ["LAYER_ARGS", "check_model_options", "layer_config", "reject_unknown",
           "signature_defaults"]

#: The Keras arguments every model and layer takes besides its own options.
LAYER_ARGS = ("name", "dtype", "trainable")

_INT_AT_LEAST_1 = ("patch_size", "num_frames", "tubelet_size", "in_chans", "embed_dim", "depth",
                   "num_heads", "head_dim", "decoder_embed_dim", "decoder_depth",
                   "decoder_num_heads")
_INT_AT_LEAST_0 = ("num_classes",)
_RATE = ("drop_path_rate", "head_drop_rate")  # in [0, 1)
_POSITIVE = ("mlp_ratio", "decoder_mlp_ratio", "layer_norm_eps", "fc_norm_eps", "decoder_eps",
             "init_scale")
_NON_NEGATIVE = ("init_values",)
_BOOLEAN = ("qkv_bias", "cosine_attention", "use_cls_token", "learned_pos_embed", "final_norm",
            "encoder_final_norm", "use_mean_pooling", "normalize_target", "coarse_assist")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def check_model_options(options: dict, model: str) -> None:
    """Raise InputError for the first option of ``options`` outside its type or range
    (``None`` is accepted where it means "the default")."""
    def fail(key, expected):
        raise InputError(f"{model}: {key}={options[key]!r}; expected {expected}")

    for key, value in options.items():
        if value is None:
            continue
        if key in _INT_AT_LEAST_1 and not (_is_int(value) and value >= 1):
            fail(key, "an integer >= 1")
        if key in _INT_AT_LEAST_0 and not (_is_int(value) and value >= 0):
            fail(key, "an integer >= 0 (0: no head)")
        if key in _RATE and not (_is_number(value) and 0 <= value < 1):
            fail(key, "a number >= 0 and < 1")
        if key in _POSITIVE and not (_is_number(value) and value > 0):
            fail(key, "a number > 0")
        if key in _NON_NEGATIVE and not (_is_number(value) and value >= 0):
            fail(key, "a number >= 0")
        if key in _BOOLEAN and not isinstance(value, bool):  # "False" would be truthy
            fail(key, "a boolean (true or false)")
    size = options.get("img_size")
    if size is not None:
        pair = size if isinstance(size, (list, tuple)) else (size, size)
        if len(pair) != 2 or not all(_is_int(v) and v >= 1 for v in pair):
            fail("img_size", "an integer >= 1 or a (height, width) pair of them")
    for width, heads in (("embed_dim", "num_heads"), ("decoder_embed_dim", "decoder_num_heads")):
        if options.get("head_dim") is None and width in options and heads in options \
                and options[width] % options[heads]:
            raise InputError(f"{model}: {width}={options[width]} is not divisible by "
                             f"{heads}={options[heads]} (or give head_dim)")


def signature_defaults(function, exclude=LAYER_ARGS) -> dict:
    """{option: default} of ``function``'s named parameters (not ``self``, ``exclude`` or
    ``**kwargs``): the defaults dicts are read off the constructor signatures, so that
    each default is written once."""
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if name != "self" and name not in exclude
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def reject_unknown(unknown: dict, what: str = "encoder") -> None:
    """The OptionError (a TypeError) for constructor keywords no option matches."""
    if unknown:
        raise OptionError(f"unknown {what} options: {sorted(unknown)}")


def layer_config(layer, dtype) -> dict:
    """The Keras arguments of a model's config: its name, and the dtype policy when one
    was given to the constructor (``dtype``; left out otherwise, so that a rebuilt model
    follows the global policy as the original did, and sidecars stay as they were)."""
    config = {"name": layer.name}
    if dtype is not None:
        config["dtype"] = layer.dtype_policy.name
    return config

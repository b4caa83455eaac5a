"""Keras variable paths <-> official PyTorch state-dict keys.

Every layer is named after its PyTorch module, made legal for Keras (``blocks.3`` is
the layer ``blocks_3``: the PyTorch backend refuses dots in names), so the mapping is
mechanical: drop the model's own name, join modules with '.', ``blocks_3`` ->
``blocks.3``, and rename the leaf (Dense/Conv ``kernel`` -> ``weight``, LayerNorm
``gamma``/``beta`` -> ``weight``/``bias``).
"""

import re

import numpy as np

_INDEXED = re.compile(r"\bblocks_(\d+)\b")
_LEAF = {"kernel": "weight", "gamma": "weight", "beta": "bias"}


def official_key(variable_path):
    """'videomae_classifier/blocks_0/attn/qkv/kernel' -> 'blocks.0.attn.qkv.weight'."""
    parts = variable_path.split("/")[1:]
    parts[-1] = _LEAF.get(parts[-1], parts[-1])
    return _INDEXED.sub(r"blocks.\1", ".".join(parts))


def official_weights(model):
    """{official key: keras variable} for every variable of ``model``."""
    mapping = {}
    for variable in model.weights:
        key = official_key(variable.path)
        if key in mapping:
            raise RuntimeError(f"two variables map to {key!r}")
        mapping[key] = variable
    return mapping


def to_keras_layout(key, array):
    """A PyTorch tensor (numpy) -> the layout of the Keras variable with this key.

    Linear weight [out, in] -> kernel [in, out]; Conv3d weight [D, C, t, p, p] ->
    kernel (t, p, p, C, D). Everything else keeps its layout.
    """
    array = np.asarray(array)
    if key.endswith(".weight") and array.ndim == 2:
        return array.T
    if key.endswith(".weight") and array.ndim == 5:
        return array.transpose(2, 3, 4, 1, 0)
    return array

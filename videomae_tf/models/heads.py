"""Heads on the backbone's token map (B, T', H', W', D), as the MA-52 winning solution
uses them (``docs/numerics.md#ma52``; qklee-lz/ACMMM2024-MAC, mmaction2
I3D/TSN/TimeSformer heads).

* ``pool_token_map``: the video feature of a head type. I3D pools over (T', H', W') at once;
  TSN pools each temporal segment spatially and averages the segments (the consensus);
  TimeSformer takes the backbone's pooled feature. With equal segments all three are the
  token mean: the types differ in their default dropout (``HEAD_DROPOUT``).
* ``FrameAssistHead``: per temporal slot, the spatial mean goes through an SE gate (whose
  output itself is used, not multiplied back) and a linear layer: (B, T', classes).
* ``ArcFace``: s * cos(theta) between the L2-normalised feature and class weights (no
  bias). The margin m is added to theta for the target class during training by the loss
  (``training.losses.arcface_logits``, standard ArcFace), or here to every class in training
  and testing (``margin_on="all"``, what the winning solution does).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from videomae_tf.errors import InputError

#: Head type -> dropout before the classifier (mmaction2's defaults in the solution).
HEAD_DROPOUT = {"i3d": 0.5, "tsn": 0.4, "timesformer": 0.0}
#: The classifier layers' initial weights: normal with this std (mmaction2 ``normal_init``).
INIT_STD = 0.01


def pool_token_map(token_map, head: str):
    """(B, T', H', W', D) -> (B, D), as the head type pools (see the module doc)."""
    if head == "i3d":
        return ops.mean(token_map, axis=(1, 2, 3))
    if head in ("tsn", "timesformer"):
        per_segment = ops.mean(token_map, axis=(2, 3))  # (B, T', D)
        return ops.mean(per_segment, axis=1)  # average consensus
    raise InputError(f"unknown head {head!r}; known: {sorted(HEAD_DROPOUT)}")


def _normal():
    return keras.initializers.RandomNormal(stddev=INIT_STD)


@keras.saving.register_keras_serializable(package="videomae_tf")
class ArcFace(layers.Layer):
    """Cosine classifier with an additive angular margin (ArcFace), no bias.

    Args:
        num_classes: output classes.
        scale: s (30).
        margin: m in radians (0.5).
        margin_on: "target" (standard: the loss adds m to the target class in training;
            this layer returns s * cos(theta)) or "all" (every class, train and test: the
            MA-52 solution's variant).
        Other keyword arguments (name, dtype, trainable) go to ``keras.layers.Layer``.
    """

    def __init__(self, num_classes: int, scale: float = 30.0, margin: float = 0.5,
                 margin_on: str = "target", **kwargs):
        super().__init__(**kwargs)
        if margin_on not in ("target", "all"):
            raise InputError(f"margin_on must be 'target' or 'all', got {margin_on!r}")
        self.num_classes, self.scale, self.margin = int(num_classes), float(scale), float(margin)
        self.margin_on = margin_on

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.num_classes),
                                      initializer=_normal(), name="kernel")

    def cosine(self, features):
        """cos(theta): (B, D) features against (D, C) class weights, both L2-normalised."""
        features = ops.normalize(features, axis=-1, epsilon=1e-12)
        weights = ops.normalize(ops.cast(self.kernel, features.dtype), axis=0, epsilon=1e-12)
        return ops.matmul(features, weights)

    def call(self, features):
        cosine = self.cosine(features)
        if self.margin_on == "all":
            theta = ops.arccos(ops.clip(cosine, -1.0 + 1e-7, 1.0 - 1e-7))
            return self.scale * ops.cos(theta + self.margin)
        return self.scale * cosine

    def get_config(self):
        return dict(super().get_config(), num_classes=self.num_classes, scale=self.scale,
                    margin=self.margin, margin_on=self.margin_on)


@keras.saving.register_keras_serializable(package="videomae_tf")
class FrameAssistHead(layers.Layer):
    """Token map (B, T', H', W', D) -> per-slot logits (B, T', classes) through an SE gate
    (Linear D->D/r, ReLU, Linear D/r->D, sigmoid; no biases) and a linear layer.

    Args:
        num_classes: output classes.
        reduction: the SE gate's r: its hidden width is D // r (at least 1).
        Other keyword arguments (name, dtype, trainable) go to ``keras.layers.Layer``.
    """

    def __init__(self, num_classes: int, reduction: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.reduction = int(num_classes), int(reduction)

    def build(self, input_shape):
        width = input_shape[-1]
        dtype = self.dtype_policy
        self.squeeze = layers.Dense(max(1, width // self.reduction), use_bias=False,
                                    activation="relu", name="se_reduce", dtype=dtype)
        self.excite = layers.Dense(width, use_bias=False, activation="sigmoid", name="se_expand",
                                   dtype=dtype)
        self.fc = layers.Dense(self.num_classes, kernel_initializer=_normal(), name="fc",
                               dtype=dtype)
        slots = (input_shape[0], input_shape[1], width)
        self.squeeze.build(slots)
        self.excite.build(slots[:-1] + (max(1, width // self.reduction),))
        self.fc.build(slots)

    def call(self, token_map):
        per_slot = ops.mean(token_map, axis=(2, 3))  # (B, T', D)
        return self.fc(self.excite(self.squeeze(per_slot)))

    def get_config(self):
        return dict(super().get_config(), num_classes=self.num_classes,
                    reduction=self.reduction)


def classifier_layer(num_classes: int, arcface: str | None, name: str, dtype=None,
                     **arcface_options):
    """A linear classifier, or ArcFace when ``arcface`` is "target" or "all"."""
    if arcface is None:
        return layers.Dense(num_classes, kernel_initializer=_normal(), name=name, dtype=dtype)
    return ArcFace(num_classes, margin_on=arcface, name=name, dtype=dtype, **arcface_options)

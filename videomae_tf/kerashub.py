"""Our models as keras-hub classes, so that keras-hub's own loaders take our pretrained
folders (``videomae_tf.presets``), ``hf://`` and ``kaggle://`` handles::

    import keras_hub
    import videomae_tf.kerashub  # registers the classes with Keras (keras-hub needs them)

    backbone = keras_hub.models.Backbone.from_preset("pretrained_folder/")
    classifier = videomae_tf.kerashub.VideoMAEVideoClassifier.from_preset(
        "kaggle://owner/model/keras/variant")
    classifier.save_to_preset("my_preset/")  # videomae_tf.from_pretrained reads it too

``VideoMAEPresetBackbone`` is ``VideoMAEBackbone`` (same layers, weights and outputs: a
dict with ``tokens``, ``pooled``, ``token_map``) and a ``keras_hub.models.Backbone``;
``VideoMAEVideoClassifier`` is the classifier as a keras-hub ``Task``: backbone, dropout
and a Dense head on the pooled features, the logits of ``VideoMAEClassifier``.
keras-hub is optional: the rest of videomae_tf never imports this module.
"""

from __future__ import annotations

import keras

try:
    import keras_hub
except ImportError:  # pragma: no cover - what a user without keras-hub sees
    raise ImportError("videomae_tf.kerashub needs keras-hub: pip install keras-hub") from None

from videomae_tf.models.backbone import VideoMAEBackbone
from videomae_tf.presets import BACKBONE_CLASS, CLASSIFIER_CLASS

__all__ = [BACKBONE_CLASS, CLASSIFIER_CLASS]


@keras.saving.register_keras_serializable(package="videomae_tf", name=BACKBONE_CLASS)
class VideoMAEPresetBackbone(VideoMAEBackbone, keras_hub.models.Backbone):
    """``VideoMAEBackbone`` as a keras-hub ``Backbone`` (``from_preset``, ``save_to_preset``)."""


@keras.saving.register_keras_serializable(package="videomae_tf", name=CLASSIFIER_CLASS)
class VideoMAEVideoClassifier(keras_hub.models.Task):
    """A VideoMAE video classifier as a keras-hub ``Task``: logits (B, num_classes) of
    normalised clips (B, T, H, W, 3), as ``VideoMAEClassifier`` computes them.

    Args:
        backbone: a ``VideoMAEPresetBackbone``.
        num_classes: classes of the Dense head.
        head_drop_rate: dropout before the head (training only).
        init_scale: the scale of the head's initial weights (as ``VideoMAEClassifier``).
        preprocessor: None (clips come normalised; keras-hub's slot for one).
        dtype: a dtype policy for the whole task: the backbone is rebuilt under it (with
            its weights) when it has another; by default the backbone's.
    """

    backbone_cls = VideoMAEPresetBackbone
    preprocessor_cls = None

    def __init__(self, backbone, num_classes: int, head_drop_rate: float = 0.0,
                 init_scale: float = 1.0, preprocessor=None, **kwargs):
        from videomae_tf.models.layers import dense_init

        dtype = kwargs.pop("dtype", None)
        if dtype is not None and keras.dtype_policies.get(dtype).name != backbone.dtype_policy.name:
            backbone = _under_policy(backbone, keras.dtype_policies.get(dtype).name)
        self.backbone = backbone
        self.preprocessor = preprocessor
        policy = backbone.dtype_policy
        self.head_dropout = keras.layers.Dropout(head_drop_rate, name="head_dropout",
                                                 dtype=policy)
        self.head = keras.layers.Dense(num_classes, kernel_initializer=dense_init(init_scale),
                                       name="head", dtype=policy)
        inputs = keras.Input(shape=backbone.clip_shape, name="pixel_values")
        outputs = self.head(self.head_dropout(backbone(inputs)["pooled"]))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.num_classes = int(num_classes)
        self.head_drop_rate = float(head_drop_rate)
        self.init_scale = float(init_scale)

    def get_config(self) -> dict:
        return dict(super().get_config(), num_classes=self.num_classes,
                    head_drop_rate=self.head_drop_rate, init_scale=self.init_scale,
                    dtype=keras.dtype_policies.serialize(self.dtype_policy))

    @classmethod
    def from_config(cls, config: dict):
        return super().from_config(dict(config))  # keras-hub's replaces config["backbone"]


def _under_policy(backbone, policy: str):
    """``backbone`` rebuilt under the dtype policy ``policy``, with its weights: a task
    asked for a policy runs all its layers under it."""
    rebuilt = type(backbone).from_config(dict(backbone.get_config(), dtype=policy))
    rebuilt.set_weights(backbone.get_weights())
    return rebuilt

"""The MA-52 micro-action model (``docs/numerics.md#ma52``): a VideoMAE backbone returning
the normalised token
map, a video head (I3D, TSN or TimeSformer; linear or ArcFace), and optionally the
frame-assisting and coarse (7 body-part classes) assisting heads.

Outputs a dict: ``logits`` (B, 52) always; ``frame_logits`` (B, T', 52) with
``frame_assist``; ``coarse_logits`` (B, 7) and, with ``frame_assist`` too,
``coarse_frame_logits`` (B, T', 7) with ``coarse_assist``. The losses of
``training.losses.micro_action_loss`` take this dict; evaluation uses ``logits``.
"""

from __future__ import annotations

import keras
from keras import layers

from videomae_tf.errors import InputError
from videomae_tf.data.ma52 import NUM_COARSE, NUM_FINE
from videomae_tf.models.classifier import VideoMAEClassifier
from videomae_tf.models.heads import (HEAD_DROPOUT, FrameAssistHead, classifier_layer,
                                      pool_token_map)
from videomae_tf.models.options import layer_config


@keras.saving.register_keras_serializable(package="videomae_tf")
class MicroActionModel(keras.Model):
    """VideoMAE backbone + MA-52 heads.

    Args:
        backbone: ``VideoMAEClassifier`` options of the backbone (width, depth, heads,
            clip size...); it is built without mean pooling and without a head.
        head: "i3d", "tsn" or "timesformer" (how the token map is pooled, and the default
            dropout: 0.5, 0.4, 0.0). dropout: overrides that default.
        num_classes: fine classes (52). num_coarse: coarse classes (7).
        frame_assist: add the per-frame assisting head(s).
        coarse_assist: add the coarse assisting head (and its per-frame twin).
        arcface: None (linear classifiers), "target" (standard ArcFace, margin on the
            target class in training, applied by the loss) or "all" (the solution's: the
            margin on every class, in training and testing).
        arcface_scale, arcface_margin: s and m.
        se_reduction: the SE gate's r (16).
        name, dtype, trainable: as ``keras.Model`` (the dtype policy reaches the backbone
            and the heads).
    """

    def __init__(self, backbone: dict | None = None, head: str = "tsn",
                 dropout: float | None = None, num_classes: int = NUM_FINE,
                 num_coarse: int = NUM_COARSE, frame_assist: bool = True,
                 coarse_assist: bool = False, arcface: str | None = None,
                 arcface_scale: float = 30.0, arcface_margin: float = 0.5,
                 se_reduction: int = 16, name: str = "micro_action_model",
                 dtype: str | keras.DTypePolicy | None = None, trainable: bool = True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self._dtype_arg = dtype
        if head not in HEAD_DROPOUT:
            raise InputError(f"unknown head {head!r}; known: {sorted(HEAD_DROPOUT)}")
        if arcface not in (None, "target", "all"):
            raise InputError(f"arcface must be None, 'target' or 'all', got {arcface!r}")
        options = dict(backbone or {})
        options.pop("name", None)
        options.update(num_classes=0, use_mean_pooling=False, dtype=self.dtype_policy)
        self.backbone = VideoMAEClassifier(**options)
        self.backbone_config = {k: v for k, v in self.backbone.get_config().items()
                                if k not in ("name", "dtype", "num_classes", "use_mean_pooling")}
        self.head_type, self.num_classes, self.num_coarse = head, int(num_classes), int(num_coarse)
        self.dropout_rate = HEAD_DROPOUT[head] if dropout is None else float(dropout)
        self.frame_assist, self.coarse_assist = bool(frame_assist), bool(coarse_assist)
        self.arcface, self.arcface_scale = arcface, float(arcface_scale)
        self.arcface_margin, self.se_reduction = float(arcface_margin), int(se_reduction)
        dtype = self.dtype_policy
        arc = dict(scale=self.arcface_scale, margin=self.arcface_margin, dtype=dtype)
        self.dropout = layers.Dropout(self.dropout_rate, name="head_dropout", dtype=dtype)
        self.fine_classifier = classifier_layer(self.num_classes, arcface, "fine_classifier", **arc)
        self.fine_frames = (FrameAssistHead(self.num_classes, self.se_reduction,
                                            name="fine_frames", dtype=dtype)
                            if self.frame_assist else None)
        self.coarse_classifier = (classifier_layer(self.num_coarse, arcface, "coarse_classifier",
                                                   **arc) if self.coarse_assist else None)
        self.coarse_frames = (FrameAssistHead(self.num_coarse, self.se_reduction,
                                              name="coarse_frames", dtype=dtype)
                              if self.coarse_assist and self.frame_assist else None)
        self.build((None,) + self.backbone.clip_shape)

    @property
    def clip_shape(self):
        return self.backbone.clip_shape

    def build(self, clip_shape):
        width = self.backbone.embed_dim
        grid = tuple(self.backbone.grid)
        token_map = (clip_shape[0], *grid, width)
        for layer in (self.fine_classifier, self.coarse_classifier):
            if layer is not None:
                layer.build((clip_shape[0], width))
        for layer in (self.fine_frames, self.coarse_frames):
            if layer is not None:
                layer.build(token_map)
        self.built = True

    def call(self, clip, training=False):
        token_map = self.backbone.forward_token_map(clip, training=training)
        features = self.dropout(pool_token_map(token_map, self.head_type), training=training)
        outputs = {"logits": self.fine_classifier(features)}
        if self.fine_frames is not None:
            outputs["frame_logits"] = self.fine_frames(token_map)
        if self.coarse_classifier is not None:
            outputs["coarse_logits"] = self.coarse_classifier(features)
        if self.coarse_frames is not None:
            outputs["coarse_frame_logits"] = self.coarse_frames(token_map)
        return outputs

    def load_encoder_weights(self, source):
        """Start the backbone from a pretrained or fine-tuned VideoMAE model (see
        ``VideoMAEClassifier.load_encoder_weights``); the heads stay fresh."""
        return self.backbone.load_encoder_weights(source)

    def get_config(self):
        return dict(layer_config(self, self._dtype_arg), backbone=dict(self.backbone_config),
                    head=self.head_type, dropout=self.dropout_rate, num_classes=self.num_classes,
                    num_coarse=self.num_coarse, frame_assist=self.frame_assist,
                    coarse_assist=self.coarse_assist, arcface=self.arcface,
                    arcface_scale=self.arcface_scale, arcface_margin=self.arcface_margin,
                    se_reduction=self.se_reduction)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

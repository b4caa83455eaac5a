"""The fine-tuning model: encoder + pooling + classification head (official ``VisionTransformer``)."""

from __future__ import annotations

import keras
from keras import layers

from videomae_tf.models.backbone import BACKBONE_DEFAULTS, EncoderModel
from videomae_tf.models.encoder import ENCODER_DEFAULTS, document_encoder_args, encoder_options
from videomae_tf.models.layers import dense_init
from videomae_tf.models.options import check_model_options, reject_unknown, signature_defaults


@keras.saving.register_keras_serializable(package="videomae_tf")
@document_encoder_args
class VideoMAEClassifier(EncoderModel):
    """VideoMAE / VideoMAE V2 video classifier.

    Input: float clips (B, T, H, W, 3), channels-last, already normalised with the
    ImageNet mean/std. Output: logits (B, num_classes). With mean pooling (the
    default) features = fc_norm(mean of the tokens); without it, norm(tokens)[:, 0]
    (``docs/numerics.md#classifier-head``). ``num_classes=0`` drops the head: the model
    then returns the pooled features (``VideoMAEBackbone`` returns tokens and token map
    too, with the same weights).

    Args:
        num_classes: classes of the head (0 for none).
        use_mean_pooling: mean-pool + fc_norm (True) or token 0 + norm (False).
        head_drop_rate: dropout before the head (V1 ``fc_drop_rate``, V2 ``head_drop_rate``).
        init_scale: the head's initial weights are scaled by this (official 0.001).
        fc_norm_eps: eps of fc_norm / norm (defaults to ``layer_norm_eps``; transformers
            checkpoints use 1e-5 here and 1e-12 in the blocks).
        name: the model's name.
        The encoder options, keyword-only:{encoder_args}
        dtype, trainable: as ``keras.Model``.
    """

    def __init__(
        self,
        num_classes: int = 400,
        use_mean_pooling: bool = BACKBONE_DEFAULTS["use_mean_pooling"],
        head_drop_rate: float = 0.0,
        init_scale: float = 0.001,
        fc_norm_eps: float | None = BACKBONE_DEFAULTS["fc_norm_eps"],
        name: str = "videomae_classifier",
        *,
        img_size: int | tuple[int, int] = ENCODER_DEFAULTS["img_size"],
        patch_size: int = ENCODER_DEFAULTS["patch_size"],
        num_frames: int = ENCODER_DEFAULTS["num_frames"],
        tubelet_size: int = ENCODER_DEFAULTS["tubelet_size"],
        in_chans: int = ENCODER_DEFAULTS["in_chans"],
        embed_dim: int = ENCODER_DEFAULTS["embed_dim"],
        depth: int = ENCODER_DEFAULTS["depth"],
        num_heads: int = ENCODER_DEFAULTS["num_heads"],
        mlp_ratio: float = ENCODER_DEFAULTS["mlp_ratio"],
        qkv_bias: bool = ENCODER_DEFAULTS["qkv_bias"],
        head_dim: int | None = ENCODER_DEFAULTS["head_dim"],
        drop_path_rate: float = ENCODER_DEFAULTS["drop_path_rate"],
        init_values: float = ENCODER_DEFAULTS["init_values"],
        layer_norm_eps: float = ENCODER_DEFAULTS["layer_norm_eps"],
        cosine_attention: bool = ENCODER_DEFAULTS["cosine_attention"],
        use_cls_token: bool = ENCODER_DEFAULTS["use_cls_token"],
        learned_pos_embed: bool = ENCODER_DEFAULTS["learned_pos_embed"],
        dtype: str | keras.DTypePolicy | None = None,
        trainable: bool = True,
        **unknown,
    ):
        reject_unknown(unknown)
        check_model_options(dict(num_classes=num_classes, head_drop_rate=head_drop_rate,
                                 init_scale=init_scale, use_mean_pooling=use_mean_pooling),
                            type(self).__name__)
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self._init_encoder_model(encoder_options(locals()), use_mean_pooling, fc_norm_eps, dtype)
        self.num_classes = int(num_classes)
        self.head_drop_rate = float(head_drop_rate)
        self.init_scale = float(init_scale)
        self.head_dropout = layers.Dropout(self.head_drop_rate, name="head_dropout",
                                           dtype=self.dtype_policy)
        self.head = (
            layers.Dense(
                self.num_classes,
                kernel_initializer=dense_init(self.init_scale),
                bias_initializer="zeros",
                name="head",
                dtype=self.dtype_policy,
            )
            if self.num_classes > 0
            else None
        )
        self.build((None,) + self.clip_shape)

    def build(self, clip_shape):
        super().build(clip_shape)
        if self.head is not None:
            self.head.build((clip_shape[0], self.embed_dim))

    def call(self, clip, training=False):
        features = self.forward_features(clip, training=training)
        if self.head is None:
            return features
        return self.head(self.head_dropout(features, training=training))

    def get_config(self):
        return dict(self._encoder_model_config(), num_classes=self.num_classes,
                    head_drop_rate=self.head_drop_rate, init_scale=self.init_scale)


#: Every option a classifier takes, with its default (from its signature), for docs and
#: config checks.
CLASSIFIER_DEFAULTS = signature_defaults(VideoMAEClassifier.__init__)

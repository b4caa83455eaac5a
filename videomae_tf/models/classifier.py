"""The fine-tuning model: encoder + pooling + classification head (official ``VisionTransformer``)."""

import keras
from keras import layers, ops

from videomae_tf.models.encoder import ENCODER_DEFAULTS, EncoderStack
from videomae_tf.models.layers import dense_init, layer_norm
from videomae_tf.models.options import check_model_options


@keras.saving.register_keras_serializable(package="videomae_tf")
class VideoMAEClassifier(EncoderStack, keras.Model):
    """VideoMAE / VideoMAE V2 video classifier.

    Input: float clips (B, T, H, W, 3), channels-last, already normalised with the
    ImageNet mean/std. Output: logits (B, num_classes). With mean pooling (the
    default) features = fc_norm(mean of the tokens); without it, norm(tokens)[:, 0].
    ``num_classes=0`` drops the head: the model then returns the pooled features.

    Args beyond the encoder's (see ``ENCODER_DEFAULTS``):
        num_classes: classes of the head (0 for none).
        use_mean_pooling: mean-pool + fc_norm (True) or token 0 + norm (False).
        head_drop_rate: dropout before the head (V1 ``fc_drop_rate``, V2 ``head_drop_rate``).
        init_scale: the head's initial weights are scaled by this (official 0.001).
        fc_norm_eps: eps of fc_norm / norm (defaults to ``layer_norm_eps``; transformers
            checkpoints use 1e-5 here and 1e-12 in the blocks).
    """

    def __init__(
        self,
        num_classes=400,
        use_mean_pooling=True,
        head_drop_rate=0.0,
        init_scale=0.001,
        fc_norm_eps=None,
        name="videomae_classifier",
        **kwargs,
    ):
        model_kwargs = {k: kwargs.pop(k) for k in ("dtype", "trainable") if k in kwargs}
        check_model_options(dict(num_classes=num_classes, head_drop_rate=head_drop_rate,
                                 init_scale=init_scale, fc_norm_eps=fc_norm_eps),
                            type(self).__name__)
        super().__init__(name=name, **model_kwargs)
        self._init_encoder(**kwargs)
        self.num_classes = int(num_classes)
        self.use_mean_pooling = bool(use_mean_pooling)
        self.head_drop_rate = float(head_drop_rate)
        self.init_scale = float(init_scale)
        self.fc_norm_eps = fc_norm_eps
        eps = fc_norm_eps if fc_norm_eps is not None else self.encoder_config["layer_norm_eps"]
        self.fc_norm = layer_norm(eps, "fc_norm") if self.use_mean_pooling else None
        self.norm = None if self.use_mean_pooling else layer_norm(eps, "norm")
        self.head_dropout = layers.Dropout(self.head_drop_rate, name="head_dropout")
        self.head = (
            layers.Dense(
                self.num_classes,
                kernel_initializer=dense_init(self.init_scale),
                bias_initializer="zeros",
                name="head",
            )
            if self.num_classes > 0
            else None
        )
        self.build((None,) + self.clip_shape)

    def build(self, clip_shape):
        self._build_encoder(clip_shape)
        feature_shape = (clip_shape[0], self.embed_dim)
        for norm in (self.fc_norm, self.norm):
            if norm is not None:
                norm.build(feature_shape)
        if self.head is not None:
            self.head.build(feature_shape)
        self.built = True

    def forward_tokens(self, clip, training=False):
        """Clip -> the last block's tokens (B, prefix + N, D)."""
        return self.run_blocks(self.embed(clip), training=training)

    def pool(self, tokens):
        if self.use_mean_pooling:
            return self.fc_norm(ops.mean(tokens[:, self.num_prefix_tokens :], axis=1))
        return self.norm(tokens)[:, 0]

    def forward_features(self, clip, training=False):
        """Clip -> pooled features (B, D), the input of the head."""
        return self.pool(self.forward_tokens(clip, training=training))

    def forward_token_map(self, clip, training=False):
        """Clip -> token map (B, T', H', W', D), normalised by ``norm`` when the model has it.

        This is the backbone output the MA-52 heads (I3D, TSN, frame-assisting) consume.
        """
        return self.token_map(self.forward_tokens(clip, training=training))

    def token_map(self, tokens):
        """The last block's tokens (from ``forward_tokens``) as the token map of
        ``forward_token_map``: one pass of the blocks gives both it and ``pool(tokens)``."""
        if self.norm is not None:
            tokens = self.norm(tokens)
        tokens = tokens[:, self.num_prefix_tokens :]
        return ops.reshape(tokens, (ops.shape(tokens)[0], *self.grid, self.embed_dim))

    def call(self, clip, training=False):
        features = self.forward_features(clip, training=training)
        if self.head is None:
            return features
        return self.head(self.head_dropout(features, training=training))

    def get_config(self):
        config = dict(self.encoder_config)
        config.update(
            name=self.name,
            num_classes=self.num_classes,
            use_mean_pooling=self.use_mean_pooling,
            head_drop_rate=self.head_drop_rate,
            init_scale=self.init_scale,
            fc_norm_eps=self.fc_norm_eps,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def load_encoder_weights(self, source):
        """Copy a pretrained encoder into this classifier (the official fine-tune rule).

        ``source`` is a ``VideoMAEPretrainer`` or a fine-tuned ``VideoMAEClassifier``, or
        what ``videomae_tf.from_pretrained`` takes (a .weights.h5 with its sidecar, .keras,
        a pretrained folder, ``hf://org/repo``, a zoo name). Position tables are rebuilt
        for this model's token count, so another frame count or resolution works. From a
        pretraining model fc_norm and the head keep their fresh initialisation (the
        encoder's ``norm`` is unused); from a classifier only the head stays fresh.
        Returns the names of the variables that were copied.
        """
        from videomae_tf.models.transfer import copy_encoder_weights

        return copy_encoder_weights(source, self)


# Every option a classifier takes, with its default, for docs and config checks.
CLASSIFIER_DEFAULTS = dict(
    ENCODER_DEFAULTS,
    num_classes=400,
    use_mean_pooling=True,
    head_drop_rate=0.0,
    init_scale=0.001,
    fc_norm_eps=None,
)

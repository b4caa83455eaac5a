"""The feature model: the fine-tuning encoder and its final norm(s), without a head.

``EncoderModel`` is what ``VideoMAEBackbone`` and ``VideoMAEClassifier`` share: the
encoder's parts at the top level (``patch_embed``, ``blocks_0``...), ``fc_norm`` (mean
pooling) or ``norm`` (token 0), and the ways to run them. A backbone therefore has the
weight layout of a ``VideoMAEClassifier(num_classes=0)``: classifier weights (the head
left out) load into it by name (``from_classifier``, ``load_encoder_weights``).
"""

from __future__ import annotations

import keras
from keras import ops

from videomae_tf.models.encoder import (ENCODER_DEFAULTS, EncoderStack, document_encoder_args,
                                        encoder_options)
from videomae_tf.models.layers import layer_norm
from videomae_tf.models.options import (check_model_options, layer_config, reject_unknown,
                                        signature_defaults)

TOKENS, POOLED, TOKEN_MAP = "tokens", "pooled", "token_map"


class EncoderModel(EncoderStack, keras.Model):
    """The encoder, the final LayerNorm(s) and the pooling of the fine-tuning models
    (see the module doc); subclasses add their own options and ``call``."""

    def _init_encoder_model(self, encoder, use_mean_pooling, fc_norm_eps, dtype):
        check_model_options(dict(fc_norm_eps=fc_norm_eps), type(self).__name__)
        self._init_encoder(**encoder)
        self._dtype_arg = dtype
        self.use_mean_pooling = bool(use_mean_pooling)
        self.fc_norm_eps = fc_norm_eps
        eps = fc_norm_eps if fc_norm_eps is not None else self.encoder_config["layer_norm_eps"]
        policy = self.dtype_policy
        self.fc_norm = layer_norm(eps, "fc_norm", policy) if self.use_mean_pooling else None
        self.norm = None if self.use_mean_pooling else layer_norm(eps, "norm", policy)

    def build(self, clip_shape):
        self._build_encoder(clip_shape)
        feature_shape = (clip_shape[0], self.embed_dim)
        for norm in (self.fc_norm, self.norm):
            if norm is not None:
                norm.build(feature_shape)
        self.built = True

    def forward_tokens(self, clip, training=False):
        """Clip -> the last block's tokens (B, prefix + N, D)."""
        return self.run_blocks(self.embed(clip), training=training)

    def pool(self, tokens):
        """The last block's tokens -> the pooled features (B, D), the head's input:
        fc_norm(mean of the patch tokens) with mean pooling, else norm(tokens)[:, 0]."""
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

    def forward_backbone(self, clip, training=False):
        """Clip -> {"tokens": the last block's tokens (B, prefix + N, D), "pooled": the
        pooled features (B, D), "token_map": (B, T', H', W', D)}, from one pass."""
        tokens = self.forward_tokens(clip, training=training)
        return {TOKENS: tokens, POOLED: self.pool(tokens), TOKEN_MAP: self.token_map(tokens)}

    def load_encoder_weights(self, source):
        """Copy a pretrained encoder into this model (the official fine-tune rule).

        ``source`` is a ``VideoMAEPretrainer``, a fine-tuned ``VideoMAEClassifier`` or a
        ``VideoMAEBackbone``, or what ``videomae_tf.from_pretrained`` takes (a .weights.h5
        with its sidecar, .keras, a pretrained folder, ``hf://org/repo``, a zoo name).
        Position tables are rebuilt for this model's token count, so another frame count
        or resolution works. From a pretraining model fc_norm and the head keep their
        fresh initialisation (the encoder's ``norm`` is unused); from a classifier or
        backbone only the head stays fresh. Returns the names of the copied variables.
        """
        # encoder_transfer sits above every model kind (it reads pretrainers too)
        from videomae_tf.models.encoder_transfer import copy_encoder_weights

        return copy_encoder_weights(source, self)

    def _encoder_model_config(self):
        """The config of the encoder, the pooling and the Keras arguments."""
        return dict(self.encoder_config, use_mean_pooling=self.use_mean_pooling,
                    fc_norm_eps=self.fc_norm_eps, **layer_config(self, self._dtype_arg))

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="videomae_tf")
@document_encoder_args
class VideoMAEBackbone(EncoderModel):
    """VideoMAE / VideoMAE V2 feature model: the classifier without its head.

    Input: float clips (B, T, H, W, 3), channels-last, normalised with the ImageNet
    mean/std. ``call`` returns a dict:

    * ``"tokens"``: the last block's tokens (B, N, D) (N + 1 with ``use_cls_token``);
    * ``"pooled"``: the classifier's pooled features (B, D): fc_norm(mean of the tokens)
      with mean pooling, else norm(tokens)[:, 0];
    * ``"token_map"``: the tokens as (B, T', H', W', D) (normalised by ``norm`` when the
      model has it, i.e. without mean pooling).

    The weights are laid out as a ``VideoMAEClassifier(num_classes=0)``'s: build one from
    a classifier with ``VideoMAEBackbone.from_classifier(classifier)``, or copy a
    pretrained or fine-tuned encoder in with ``load_encoder_weights``.

    Args:{encoder_args}
        use_mean_pooling: pool the mean token through ``fc_norm`` (True) or take token 0
            through ``norm`` (False).
        fc_norm_eps: epsilon of fc_norm / norm (default ``layer_norm_eps``).
        name, dtype, trainable: as ``keras.Model``.
    """

    def __init__(
        self,
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
        use_mean_pooling: bool = True,
        fc_norm_eps: float | None = None,
        name: str = "videomae_backbone",
        dtype: str | keras.DTypePolicy | None = None,
        trainable: bool = True,
        **unknown,
    ):
        reject_unknown(unknown)
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self._init_encoder_model(encoder_options(locals()), use_mean_pooling, fc_norm_eps, dtype)
        self.build((None,) + self.clip_shape)

    def call(self, clip, training=False):
        return self.forward_backbone(clip, training=training)

    def get_config(self):
        return self._encoder_model_config()

    @classmethod
    def from_classifier(cls, classifier, name: str = "videomae_backbone"):
        """A backbone with ``classifier``'s encoder, pooling and weights (all but the head).

        ``classifier``: a ``VideoMAEClassifier`` (or another ``VideoMAEBackbone``)."""
        config = {key: value for key, value in classifier.get_config().items()
                  if key in BACKBONE_DEFAULTS or key == "dtype"}
        backbone = cls(name=name, **config)
        backbone.load_encoder_weights(classifier)
        return backbone


#: Every option a backbone takes, with its default (from its signature).
BACKBONE_DEFAULTS = signature_defaults(VideoMAEBackbone.__init__)

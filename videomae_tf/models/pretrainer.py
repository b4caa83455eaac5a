"""The masked autoencoder (official ``PretrainVisionTransformer``), its target and its loss.

The model takes token *indices*, not boolean masks, so every shape is static and the
whole step compiles with XLA: ``visible_index`` (B, N_visible) are the tokens the
encoder sees, ``reconstruct_index`` (B, N_reconstruct) the tokens the decoder predicts,
each in ascending token order. VideoMAE V1 reconstructs every encoder-masked token;
V2's decoder mask reconstructs only the tokens it leaves unmasked (which may include
encoder-visible ones). ``reconstruct()`` accepts the boolean masks of the official
code (True = masked) and turns them into indices. See ``docs/numerics.md#pretraining-decoder``
and ``docs/numerics.md#targets``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from videomae_tf.errors import InputError
from videomae_tf.masking import visible_and_reconstructed
from videomae_tf.data.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD
from videomae_tf.models.encoder import (ENCODER_DEFAULTS, VideoMAEEncoder, document_encoder_args,
                                        encoder_options, gather_tokens)
from videomae_tf.models.options import (check_model_options, layer_config, reject_unknown,
                                        signature_defaults)
from videomae_tf.models.layers import Block, dense_init, layer_norm, sinusoid_table


def patchify(pixels, patch_size, tubelet_size):
    """(B, T, H, W, C) -> (B, N, tubelet*p*p, C), values ordered (t_in, y_in, x_in).

    Token order is the encoder's (t, h, w) raster order.
    """
    b, t, h, w, c = pixels.shape
    b = ops.shape(pixels)[0] if b is None else b
    tt, hh, ww = t // tubelet_size, h // patch_size, w // patch_size
    x = ops.reshape(pixels, (b, tt, tubelet_size, hh, patch_size, ww, patch_size, c))
    x = ops.transpose(x, (0, 1, 3, 5, 2, 4, 6, 7))
    return ops.reshape(x, (b, tt * hh * ww, tubelet_size * patch_size * patch_size, c))


def patch_statistics(patches):
    """Per patch and channel of ``patchify``'s output: the mean and sqrt(unbiased
    variance) + 1e-6 over the patch's values, each (B, N, 1, C) -- what the official
    normalised target divides by (and what a picture of a prediction multiplies back)."""
    count = patches.shape[2]
    mean = ops.mean(patches, axis=2, keepdims=True)
    var = ops.sum(ops.square(patches - mean), axis=2, keepdims=True) / (count - 1)
    return mean, ops.sqrt(var) + 1e-6


def reconstruction_target(clip, patch_size=16, tubelet_size=2, normalize=True,
                          mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """The official regression target for every token, (B, N, 3 * tubelet * p * p).

    Undo the ImageNet normalisation to get [0, 1] pixels, cut tubelet patches, and (with
    ``normalize``, the official ``normlize_target``) standardise each patch per channel
    with its mean and sqrt(unbiased variance) + 1e-6. Flattened channel-fastest:
    index = ((t_in * p + y_in) * p + x_in) * 3 + c.
    """
    clip = ops.cast(clip, "float32")
    pixels = clip * ops.convert_to_tensor(std, "float32") + ops.convert_to_tensor(mean, "float32")
    patches = patchify(pixels, patch_size, tubelet_size)
    if normalize:
        mean, std = patch_statistics(patches)
        patches = (patches - mean) / std
    shape = ops.shape(patches)
    return ops.reshape(patches, (shape[0], shape[1], -1))


def reconstruction_loss(target, prediction, weight=None):
    """Mean squared error per token, averaged over the tokens with weight 1.

    target, prediction: (B, K, V). weight (B, K) in {0, 1}: VideoMAE V2 counts only
    the decoded tokens that the encoder masked. Without it (V1) every reconstructed
    token counts, which is the plain MSE over all values.
    """
    per_token = ops.mean(ops.square(ops.cast(prediction, "float32") - target), axis=-1)
    if weight is None:
        return ops.mean(per_token)
    weight = ops.cast(weight, "float32")
    return ops.sum(per_token * weight) / ops.maximum(ops.sum(weight), 1.0)


def encoder_masked_weight(visible_index, reconstruct_index, num_tokens):
    """1 where a reconstructed token was masked for the encoder, else 0: (B, K)."""
    visible = ops.max(ops.one_hot(ops.cast(visible_index, "int32"), num_tokens), axis=1)
    seen = ops.take_along_axis(visible, ops.cast(reconstruct_index, "int32"), axis=1)
    return 1.0 - seen


@keras.saving.register_keras_serializable(package="videomae_tf")
class VideoMAEDecoder(layers.Layer):
    """Decoder blocks, then norm + head on the last ``num_reconstruct`` tokens only.

    ``call(x, num_reconstruct)``: x (B, K, embed_dim), the visible tokens followed by the
    ``num_reconstruct`` mask tokens; returns (B, num_reconstruct, num_outputs).

    Args:
        embed_dim: the decoder's token width.
        depth: decoder blocks.
        num_heads: attention heads.
        num_outputs: values predicted per token (3 * tubelet * patch * patch).
        mlp_ratio: MLP hidden width over ``embed_dim``.
        qkv_bias: the attention's q_bias and v_bias.
        head_dim: width of an attention head (default ``embed_dim // num_heads``).
        init_values: layer scale init (0: none).
        eps: epsilon of the blocks' LayerNorms.
        norm_eps: epsilon of the final ``norm`` (default ``eps``).
        Other keyword arguments (name, dtype, trainable) go to ``keras.layers.Layer``.
    """

    def __init__(self, embed_dim: int, depth: int, num_heads: int, num_outputs: int,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, head_dim: int | None = None,
                 init_values: float = 0.0, eps: float = 1e-6, norm_eps: float | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.config_ = dict(embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                            num_outputs=num_outputs, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                            head_dim=head_dim, init_values=init_values, eps=eps,
                            norm_eps=norm_eps)
        dtype = self.dtype_policy
        self.blocks = [
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, head_dim, 0.0, init_values, eps,
                  name=f"blocks_{i}", dtype=dtype)
            for i in range(depth)
        ]
        self.norm = layer_norm(eps if norm_eps is None else norm_eps, "norm", dtype)
        self.head = layers.Dense(num_outputs, kernel_initializer="glorot_uniform", name="head",
                                 dtype=dtype)

    def build(self, input_shape):
        for block in self.blocks:
            block.build(input_shape)
        self.norm.build(input_shape)
        self.head.build(input_shape)

    def call(self, x, num_reconstruct, training=False):
        for block in self.blocks:
            x = block(x, training=training)
        return self.head(self.norm(x[:, -num_reconstruct:]))

    def get_config(self):
        config = super().get_config()
        config.update(self.config_)
        return config


@keras.saving.register_keras_serializable(package="videomae_tf")
@document_encoder_args
class VideoMAEPretrainer(keras.Model):
    """VideoMAE (V1) / VideoMAE V2 masked autoencoder.

    ``call`` takes a dict {"pixel_values": (B, T, H, W, 3), "visible_index": (B, Nv),
    "reconstruct_index": (B, Nr)} and returns predictions (B, Nr, 3 * tubelet * p * p)
    for the reconstructed tokens. ``fit`` on such dicts trains with the official loss
    (``compute_loss`` builds the target from the clip itself).

    Args:
        decoder_embed_dim: the decoder's token width.
        decoder_depth: decoder blocks.
        decoder_num_heads: the decoder's attention heads.
        decoder_mlp_ratio: the decoder's MLP ratio (default: the encoder's ``mlp_ratio``).
        decoder_eps: eps of decoder.norm (default ``layer_norm_eps``; transformers uses
            1e-5 there).
        encoder_final_norm: the encoder's ``norm`` (official True; transformers keeps it
            only without mean pooling).
        normalize_target: standardise each target patch (official True).
        name: the model's name.
        The encoder options, keyword-only:{encoder_args}
        dtype, trainable: as ``keras.Model``.
    """

    def __init__(
        self,
        decoder_embed_dim: int = 384,
        decoder_depth: int = 4,
        decoder_num_heads: int = 6,
        decoder_mlp_ratio: float | None = None,
        decoder_eps: float | None = None,
        encoder_final_norm: bool = True,
        normalize_target: bool = True,
        name: str = "videomae_pretrainer",
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
        check_model_options(dict(decoder_embed_dim=decoder_embed_dim, decoder_depth=decoder_depth,
                                 decoder_num_heads=decoder_num_heads,
                                 decoder_mlp_ratio=decoder_mlp_ratio, decoder_eps=decoder_eps,
                                 normalize_target=normalize_target,
                                 encoder_final_norm=encoder_final_norm),
                            type(self).__name__)
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self._dtype_arg = dtype
        self.encoder = VideoMAEEncoder(name="encoder", final_norm=encoder_final_norm,
                                       dtype=self.dtype_policy, **encoder_options(locals()))
        enc = self.encoder.encoder_config
        self.decoder_config = dict(
            decoder_embed_dim=int(decoder_embed_dim),
            decoder_depth=int(decoder_depth),
            decoder_num_heads=int(decoder_num_heads),
            decoder_mlp_ratio=float(decoder_mlp_ratio or enc["mlp_ratio"]),
            decoder_eps=decoder_eps,
            encoder_final_norm=bool(encoder_final_norm),
            normalize_target=bool(normalize_target),
        )
        self.patch_values = 3 * enc["tubelet_size"] * enc["patch_size"] ** 2
        self.encoder_to_decoder = layers.Dense(
            decoder_embed_dim, use_bias=False, kernel_initializer="glorot_uniform",
            name="encoder_to_decoder", dtype=self.dtype_policy,
        )
        self.decoder = VideoMAEDecoder(
            decoder_embed_dim, decoder_depth, decoder_num_heads, self.patch_values,
            mlp_ratio=self.decoder_config["decoder_mlp_ratio"], qkv_bias=enc["qkv_bias"],
            init_values=enc["init_values"], eps=enc["layer_norm_eps"], norm_eps=decoder_eps,
            name="decoder", dtype=self.dtype_policy,
        )
        self.decoder_pos_table = sinusoid_table(self.encoder.num_patches, decoder_embed_dim)
        self.build((None,) + self.encoder.clip_shape)

    @property
    def num_patches(self):
        return self.encoder.num_patches

    def build(self, clip_shape):
        self.encoder.build(clip_shape)
        dim = self.decoder_config["decoder_embed_dim"]
        self.encoder_to_decoder.build((None, None, self.encoder.embed_dim))
        self.mask_token = self.add_weight(shape=(1, 1, dim), initializer=dense_init(), name="mask_token")
        self.decoder.build((None, None, dim))
        self.built = True

    def call(self, inputs, training=False):
        clip = inputs["pixel_values"]
        visible_index = inputs["visible_index"]
        reconstruct_index = inputs["reconstruct_index"]
        x = self.encoder_to_decoder(self.encoder(clip, visible_index, training=training))
        batch, num_reconstruct = ops.shape(x)[0], ops.shape(reconstruct_index)[1]
        table = ops.cast(self.decoder_pos_table, x.dtype)[None]
        table = ops.broadcast_to(table, (batch,) + tuple(self.decoder_pos_table.shape))
        visible = x + gather_tokens(table, visible_index)
        masked = ops.cast(self.mask_token, x.dtype) + gather_tokens(table, reconstruct_index)
        x = ops.concatenate([visible, masked], axis=1)
        return self.decoder(x, num_reconstruct=num_reconstruct, training=training)

    def target(self, clip):
        """The regression target of every token (B, N, 3 * tubelet * p * p)."""
        enc = self.encoder.encoder_config
        return reconstruction_target(
            clip, enc["patch_size"], enc["tubelet_size"], self.decoder_config["normalize_target"]
        )

    def loss_from_predictions(self, inputs, predictions):
        """The official loss of ``predictions`` for the batch ``inputs``."""
        target = gather_tokens(self.target(inputs["pixel_values"]), inputs["reconstruct_index"])
        weight = encoder_masked_weight(
            inputs["visible_index"], inputs["reconstruct_index"], self.num_patches
        )
        return reconstruction_loss(target, predictions, weight)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.loss_from_predictions(x, y_pred)
        extra = self.losses
        return loss + ops.sum(extra) if extra else loss

    def reconstruct(self, clip, encoder_mask, decoder_mask=None):
        """Predictions for the reconstructed tokens, given official boolean masks.

        encoder_mask, decoder_mask: (B, N) booleans, True = masked. Without a decoder
        mask every encoder-masked token is reconstructed (V1); with one, the tokens it
        does not mask (V2). Returns (B, N_reconstructed, 3 * tubelet * p * p).
        """
        for mask, label in ((encoder_mask, "encoder_mask"), (decoder_mask, "decoder_mask")):
            if mask is not None and np.shape(mask)[-1] != self.num_patches:
                raise InputError(
                    f"{label} must be (batch, {self.num_patches}) for a {self.encoder.grid} "
                    f"token grid, got {np.shape(mask)}"
                )
        visible_index, reconstruct_index = visible_and_reconstructed(encoder_mask, decoder_mask)
        return self(
            {"pixel_values": clip, "visible_index": visible_index,
             "reconstruct_index": reconstruct_index},
            training=False,
        )

    def get_config(self):
        config = dict(self.encoder.encoder_config)
        config.update(self.decoder_config, **layer_config(self, self._dtype_arg))
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


#: Every option a pretraining model takes, with its default (from its signature).
PRETRAINER_DEFAULTS = signature_defaults(VideoMAEPretrainer.__init__)

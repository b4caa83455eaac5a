"""The VideoMAE ViT encoder: tubelet tokens + positions -> transformer blocks.

``EncoderStack`` is a mixin that puts the encoder's parts directly on its host, so the
fine-tuning model carries them at the top level (``blocks.0``...) as the official
classifier does, while the pretraining model nests them in an ``encoder`` layer
(``encoder.blocks.0``...). The same code serves both.

The encoder options are written once, in ``VideoMAEEncoder``'s signature (types,
defaults) and docstring (``ENCODER_ARGS``); ``ENCODER_DEFAULTS`` is read off that
signature, and the models that carry an encoder take the same options by name.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from videomae_tf.errors import InputError
from videomae_tf.models.layers import Block, TubeletEmbedding, dense_init, layer_norm, sinusoid_table
from videomae_tf.models.options import check_model_options, reject_unknown, signature_defaults


def as_pair(size):
    """224 -> (224, 224); (h, w) stays."""
    if isinstance(size, (tuple, list)):
        return int(size[0]), int(size[1])
    return int(size), int(size)


#: The Args of the encoder options, shared by the docstrings of the models that take them.
ENCODER_ARGS = """
        img_size: frame size, a side or (height, width), in pixels.
        patch_size: the spatial side of a tubelet, in pixels.
        num_frames: frames per clip.
        tubelet_size: frames per tubelet (token).
        in_chans: channels per frame.
        embed_dim: token width D.
        depth: transformer blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width over ``embed_dim``.
        qkv_bias: the attention's q_bias and v_bias.
        head_dim: width of an attention head (default ``embed_dim // num_heads``).
        drop_path_rate: stochastic depth of the last block (linear from 0 over the blocks).
        init_values: layer scale init (0: no layer scale; VideoMAE V2 giant uses it).
        layer_norm_eps: epsilon of the blocks' LayerNorms.
        cosine_attention: VideoMAE V2's cosine attention.
        use_cls_token: a learned CLS token in front of the patch tokens.
        learned_pos_embed: a learned position table instead of the fixed sin/cos one
            (``docs/numerics.md#position-table``)."""


def document_encoder_args(cls):
    """Class decorator: ``ENCODER_ARGS`` in place of ``{encoder_args}`` in the docstring."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__.replace("{encoder_args}", ENCODER_ARGS)
    return cls


def encoder_options(values: dict) -> dict:
    """The encoder options among a constructor's ``locals()``."""
    return {key: values[key] for key in ENCODER_DEFAULTS}


class EncoderStack:
    """Mixin holding patch_embed, the position table and the blocks on ``self``."""

    def _init_encoder(self, **kwargs):
        reject_unknown(set(kwargs) - set(ENCODER_DEFAULTS))
        cfg = dict(ENCODER_DEFAULTS, **kwargs)
        check_model_options(cfg, type(self).__name__)
        cfg["img_size"] = as_pair(cfg["img_size"])
        self.encoder_config = cfg
        height, width = cfg["img_size"]
        p, t = cfg["patch_size"], cfg["tubelet_size"]
        if height % p or width % p or cfg["num_frames"] % t:
            raise InputError(
                f"img_size {cfg['img_size']} must be divisible by patch_size {p} and "
                f"num_frames {cfg['num_frames']} by tubelet_size {t}"
            )
        self.grid = (cfg["num_frames"] // t, height // p, width // p)
        self.num_patches = int(np.prod(self.grid))
        self.embed_dim = cfg["embed_dim"]
        self.num_prefix_tokens = 1 if cfg["use_cls_token"] else 0
        dtype = self.dtype_policy
        self.patch_embed = TubeletEmbedding(cfg["embed_dim"], p, t, name="patch_embed",
                                            dtype=dtype)
        rates = np.linspace(0, cfg["drop_path_rate"], cfg["depth"])
        self.blocks = [
            Block(
                cfg["embed_dim"],
                cfg["num_heads"],
                mlp_ratio=cfg["mlp_ratio"],
                qkv_bias=cfg["qkv_bias"],
                head_dim=cfg["head_dim"],
                drop_path=float(rates[i]),
                init_values=cfg["init_values"],
                eps=cfg["layer_norm_eps"],
                cosine_attention=cfg["cosine_attention"],
                name=f"blocks_{i}",
                dtype=dtype,
            )
            for i in range(cfg["depth"])
        ]
        self.pos_table = None if cfg["learned_pos_embed"] else sinusoid_table(
            self.num_patches, cfg["embed_dim"]
        )

    @property
    def clip_shape(self):
        """The (T, H, W, C) clip this model takes."""
        cfg = self.encoder_config
        return (cfg["num_frames"], *cfg["img_size"], cfg["in_chans"])

    def check_clip(self, shape, dtype="float32"):
        """Raise a ValueError naming the expected shape (or dtype) when a clip does not fit
        (a plain ValueError, not an InputError: it is raised while TensorFlow traces the
        model, and autograph re-raises only built-in exception types)."""
        dtype = keras.backend.standardize_dtype(dtype)
        if not dtype.startswith(("float", "bfloat")):
            raise ValueError(
                f"{self.name} takes float clips normalised with the ImageNet mean and std, got "
                f"{dtype}; convert with videomae_tf.data.transforms.normalize(clip)"
            )
        shape = tuple(shape)
        expected = self.clip_shape
        if len(shape) != 5 or any(
            got is not None and got != want for got, want in zip(shape[1:], expected)
        ):
            raise ValueError(
                f"{self.name} expects clips of shape (batch, {', '.join(map(str, expected))}) "
                f"(batch, frames, height, width, channels; channels-last, normalised), "
                f"got {shape}"
            )

    def _build_encoder(self, clip_shape):
        self.patch_embed.build(clip_shape)
        tokens = self.num_patches + self.num_prefix_tokens
        if self.encoder_config["use_cls_token"]:
            self.cls_token = self.add_weight(
                shape=(1, 1, self.embed_dim), initializer=dense_init(), name="cls_token"
            )
        if self.encoder_config["learned_pos_embed"]:
            self.pos_embed = self.add_weight(
                shape=(1, tokens, self.embed_dim), initializer=dense_init(), name="pos_embed"
            )
        for block in self.blocks:
            block.build((clip_shape[0], tokens, self.embed_dim))

    def embed(self, clip):
        """Clip -> tokens with positions (and the CLS token in front, if any)."""
        self.check_clip(clip.shape, clip.dtype)
        x = self.patch_embed(clip)
        batch = ops.shape(x)[0]
        prefix = []
        if self.encoder_config["use_cls_token"]:
            prefix = [ops.broadcast_to(ops.cast(self.cls_token, x.dtype), (batch, 1, self.embed_dim))]
        if self.pos_table is None:
            x = ops.concatenate(prefix + [x], axis=1) if prefix else x
            return x + ops.cast(self.pos_embed, x.dtype)
        x = x + ops.cast(self.pos_table, x.dtype)[None]
        return ops.concatenate(prefix + [x], axis=1) if prefix else x

    def run_blocks(self, x, training=False):
        for block in self.blocks:
            x = block(x, training=training)
        return x


def gather_tokens(x, index):
    """x (B, N, D), index (B, K) int -> (B, K, D): the tokens at those positions."""
    index = ops.cast(index, "int32")
    return ops.take_along_axis(x, index[:, :, None], axis=1)


@keras.saving.register_keras_serializable(package="videomae_tf")
@document_encoder_args
class VideoMAEEncoder(EncoderStack, layers.Layer):
    """The pretraining encoder: sees the visible tokens only and ends in ``norm``.

    ``call(clip, visible_index=None)``: clips (B, T, H, W, C), channels-last and
    normalised; ``visible_index`` (B, K) the tokens to keep (all when None). Returns the
    tokens (B, K, D), after ``norm`` with ``final_norm``.

    Args:{encoder_args}
        final_norm: end in a LayerNorm ``norm`` (the official pretraining encoder does).
        name, dtype, trainable: as ``keras.layers.Layer``.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        num_frames: int = 16,
        tubelet_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        head_dim: int | None = None,
        drop_path_rate: float = 0.0,
        init_values: float = 0.0,
        layer_norm_eps: float = 1e-6,
        cosine_attention: bool = False,
        use_cls_token: bool = False,
        learned_pos_embed: bool = False,
        final_norm: bool = True,
        name: str | None = None,
        dtype: str | keras.DTypePolicy | None = None,
        trainable: bool = True,
        **unknown,
    ):
        reject_unknown(unknown)
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self._init_encoder(**encoder_options(locals()))
        self.final_norm = bool(final_norm)
        eps = self.encoder_config["layer_norm_eps"]
        self.norm = layer_norm(eps, "norm", self.dtype_policy) if self.final_norm else None

    def build(self, clip_shape):
        self._build_encoder(clip_shape)
        if self.norm is not None:
            self.norm.build((clip_shape[0], None, self.embed_dim))

    def call(self, clip, visible_index=None, training=False):
        x = self.embed(clip)
        if visible_index is not None:
            x = gather_tokens(x, visible_index)
        x = self.run_blocks(x, training=training)
        return x if self.norm is None else self.norm(x)

    def get_config(self):
        config = super().get_config()
        config.update(self.encoder_config, final_norm=self.final_norm)
        return config


#: Every encoder option with its default (from ``VideoMAEEncoder``'s signature).
ENCODER_DEFAULTS = signature_defaults(VideoMAEEncoder.__init__,
                                      exclude=("final_norm", "name", "dtype", "trainable"))

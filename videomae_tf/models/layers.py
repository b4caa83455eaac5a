"""The building blocks of the VideoMAE ViT, mirroring the official PyTorch modules.

Each layer is named after the PyTorch module it mirrors (``patch_embed.proj``,
``blocks.3.attn.qkv``...), so that a Keras variable path maps one-to-one to a key of
an official checkpoint (see ``videomae_tf.models.naming``). Model code uses
``keras.ops`` only: the same layers run on the TensorFlow, JAX and PyTorch backends.

Every layer passes its dtype policy on to the layers it holds, so ``dtype="bfloat16"``
(or ``"mixed_bfloat16"``) on a model reaches each matmul. Layer keyword arguments
(``name``, ``dtype``, ``trainable``) go to ``keras.layers.Layer``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

# torch's trunc_normal_(std=0.02) truncates at +-2 (absolute), i.e. practically a
# plain normal; a 2-sigma truncated normal is the closest Keras initializer.
TRUNC_NORMAL = 0.02


def dense_init(scale=1.0):
    return keras.initializers.TruncatedNormal(stddev=TRUNC_NORMAL * scale)


def sinusoid_table(num_positions, dim):
    """The official fixed 1-D sin/cos position table, shape (num_positions, dim).

    angle(n, j) = n / 10000^(2*floor(j/2)/dim); even channels take sin, odd cos
    (interleaved). Computed in float64 and cast to float32, as the official code does.
    """
    position = np.arange(num_positions, dtype=np.float64)[:, None]
    channel = np.arange(dim)
    angles = position / np.power(10000.0, 2 * (channel // 2) / dim)[None, :]
    table = np.where(channel % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype(np.float32)


def layer_norm(eps, name, dtype=None):
    return layers.LayerNormalization(epsilon=eps, name=name, dtype=dtype)


def linear(layer: layers.Dense, x, bias=None, then_gelu: bool = False):
    """``layer(x)`` plus ``bias`` (for a layer without a bias of its own, as ``qkv``), then
    GELU if asked.

    On TensorFlow it runs as a 2-D MatMul + BiasAdd (+ the erf GELU below), the pattern its
    graph optimizer fuses into one oneDNN matmul with the bias and GELU applied as it
    writes; a Dense on (B, N, D) is a tensordot (reshape, matmul, reshape) whose bias add
    is a separate kernel, as is each of GELU's five. On a 2-core AVX-512/AMX Xeon: ViT-S's 12
    MLPs of one 16 x 224 clip in bf16 68 -> 29 ms; the whole model, alternating in one
    process, bf16 0.401 -> 0.374 s, fp32 0.653 -> 0.628 s per clip."""
    if bias is not None and layer.bias is not None:
        raise ValueError(f"{layer.name} has a bias of its own; linear adds a bias only to "
                         "a layer without one")
    if (keras.backend.backend() != "tensorflow" or layer.quantization_mode
            or getattr(layer, "lora_enabled", False)):
        y = layer(x)
        if bias is not None:
            y = y + ops.cast(bias, y.dtype)
        return gelu(y) if then_gelu else y
    import tensorflow as tf

    kernel = ops.convert_to_tensor(layer.kernel)
    flat = tf.reshape(ops.cast(x, kernel.dtype), (-1, kernel.shape[0]))
    y = tf.matmul(flat, kernel)
    bias = layer.bias if bias is None else bias
    if bias is not None:
        y = tf.nn.bias_add(y, ops.cast(bias, y.dtype))
    if then_gelu:
        y = gelu(y)
    return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [kernel.shape[1]]], axis=0))


@keras.saving.register_keras_serializable(package="videomae_tf")
class TubeletEmbedding(layers.Layer):
    """Conv3d with kernel = stride = (tubelet, patch, patch): clip -> (B, N, D) tokens.

    Tokens come out in (t, h, w) raster order, time outermost, like the official
    ``PatchEmbed`` followed by ``flatten(2).transpose(1, 2)`` (see
    ``docs/numerics.md#tubelet-embedding``).

    Args:
        embed_dim: width D of a token.
        patch_size: the spatial side of a patch, in pixels.
        tubelet_size: frames per token.
    """

    def __init__(self, embed_dim: int, patch_size: int = 16, tubelet_size: int = 2,
                 **kwargs):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.proj = layers.Conv3D(
            embed_dim,
            kernel_size=(tubelet_size, patch_size, patch_size),
            strides=(tubelet_size, patch_size, patch_size),
            padding="valid",
            data_format="channels_last",
            kernel_initializer="glorot_uniform",
            name="proj",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        self.proj.build(input_shape)

    def call(self, x):
        x = self.proj(x)
        return ops.reshape(x, (ops.shape(x)[0], -1, self.embed_dim))

    def get_config(self):
        config = super().get_config()
        config.update(
            embed_dim=self.embed_dim,
            patch_size=self.patch_size,
            tubelet_size=self.tubelet_size,
        )
        return config


#: Unfused attention goes head by head from this many tokens on: below, all heads'
#: scores fit a CPU's mid-level cache and the einsums of ``ops.dot_product_attention``
#: are as fast or faster (ViT-S training step: 196 tokens 0.69 s einsums / 0.77 s per
#: head; 392 tokens 1.75 / 1.48 s; 784 tokens 2.10 / 1.90 s).
PER_HEAD_MIN_TOKENS = 256


def has_fused_attention() -> bool:
    """Whether ``ops.dot_product_attention`` runs a fused kernel here: torch's SDPA (flash
    attention on CPU and GPU) and JAX on GPU/TPU (cuDNN / Pallas). TensorFlow has none, and
    on a JAX CPU its XLA form is 1.5x slower than ``attention_per_head`` (ViT-S, 16 x 224:
    2.50 against 1.69 s per clip, ``benchmarks/inference.py``)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    return backend == "torch"


def attends_per_head(tokens: int | None) -> bool:
    """Whether attention over ``tokens`` tokens runs ``attention_per_head`` here (no fused
    kernel, and enough tokens; None: not known before the call)."""
    if has_fused_attention():
        return False
    return tokens is None or tokens >= PER_HEAD_MIN_TOKENS


def has_one_pass_softmax() -> bool:
    """Whether a softmax here is one kernel that beats the exp / max / sum form: TensorFlow
    outside XLA (oneDNN's softmax reads and writes the (N, N) scores once; bf16 in, float32
    inside). Under XLA (TensorFlow's ``jit_compile`` or JAX) the exp / sum form fuses into
    the surrounding ops and is faster (ViT-S, 16 x 224, 12 blocks' attention on a 2-core
    AVX-512 CPU: graph fp32 278 vs 327 ms, bf16 184 vs 258 ms; XLA fp32 318 vs 356 ms)."""
    if keras.backend.backend() != "tensorflow":
        return False
    from tensorflow.python.framework import ops as tf_ops
    from tensorflow.python.ops import control_flow_util

    return not control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph())


def attention_per_head(q, k, v, scale: float):
    """softmax(q k^T * scale) v, head by head, where no fused kernel exists;
    (B, N, heads, head_dim) in, (B, N, heads * head_dim) out (head-major, as the
    official reshape).

    Unfused attention is bound by memory traffic over the (N, N) scores; this form cuts it
    (benchmarks/inference.py, benchmarks/train_step.py): on ViT-S, 16 x 224, one head's
    1568 x 1568 scores (9.8 MB) stay in a CPU's last-level cache where all heads' (59 MB)
    do not, and slicing heads needs no transposes. Outside XLA the softmax is one kernel
    (``has_one_pass_softmax``); under XLA the exponent and its sum are float32 whatever the
    compute dtype, and the (N, head_dim) output is divided by the sum instead of the (N, N)
    weights, which saves a pass over them. Its gradient is 1.4x faster than the einsums of
    ``ops.dot_product_attention``'s TensorFlow form.
    """
    one_pass = has_one_pass_softmax()
    outputs = []
    for head in range(q.shape[2]):
        scores = ops.matmul(q[:, :, head] * scale, ops.swapaxes(k[:, :, head], 1, 2))
        if one_pass:
            outputs.append(ops.matmul(ops.softmax(scores, axis=-1), v[:, :, head]))
            continue
        scores = ops.cast(scores, "float32")
        weights = ops.exp(scores - ops.stop_gradient(ops.max(scores, axis=-1, keepdims=True)))
        out = ops.matmul(ops.cast(weights, v.dtype), v[:, :, head])
        out = ops.cast(out, "float32") / ops.sum(weights, axis=-1, keepdims=True)
        outputs.append(ops.cast(out, v.dtype))
    return ops.concatenate(outputs, axis=-1)


@keras.saving.register_keras_serializable(package="videomae_tf")
class Attention(layers.Layer):
    """Multi-head self-attention with the official q_bias / v_bias (k has no bias)
    (``docs/numerics.md#attention``).

    Args:
        dim: the token width.
        num_heads: attention heads.
        qkv_bias: learn q_bias and v_bias.
        head_dim: width of a head (default ``dim // num_heads``).
        cosine: VideoMAE V2's optional cosine attention: normalised q and k, scaled by
            exp(min(scale, ln 100)) with a learnable per-head ``scale``.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 head_dim: int | None = None, cosine: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.num_heads = num_heads
        self.qkv_bias = qkv_bias
        self.head_dim = head_dim or dim // num_heads
        self.cosine = cosine
        inner = self.head_dim * num_heads
        self.inner_dim = inner
        self.qkv = layers.Dense(
            3 * inner, use_bias=False, kernel_initializer=dense_init(), name="qkv",
            dtype=self.dtype_policy,
        )
        self.proj = layers.Dense(
            dim, kernel_initializer=dense_init(), bias_initializer="zeros", name="proj",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        self.qkv.build(input_shape)
        if self.qkv_bias:
            self.q_bias = self.add_weight(
                shape=(self.inner_dim,), initializer="zeros", name="q_bias"
            )
            self.v_bias = self.add_weight(
                shape=(self.inner_dim,), initializer="zeros", name="v_bias"
            )
        if self.cosine:
            self.scale = self.add_weight(
                shape=(self.num_heads, 1, 1),
                initializer=keras.initializers.Constant(math.log(10.0)),
                name="scale",
            )
        self.proj.build(tuple(input_shape[:-1]) + (self.inner_dim,))

    def call(self, x):
        batch, tokens = ops.shape(x)[0], ops.shape(x)[1]
        bias = None
        if self.qkv_bias:
            zeros = ops.zeros((self.inner_dim,), dtype=self.v_bias.dtype)
            bias = ops.concatenate([self.q_bias, zeros, self.v_bias])
        qkv = linear(self.qkv, x, bias)
        qkv = ops.reshape(qkv, (batch, tokens, 3, self.num_heads, self.head_dim))
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # (B, N, heads, head_dim) each
        scale = self.head_dim**-0.5
        if self.cosine:  # normalised q, k; the per-head logit scale goes into q
            q = q / ops.maximum(ops.norm(q, axis=-1, keepdims=True), 1e-12)
            k = k / ops.maximum(ops.norm(k, axis=-1, keepdims=True), 1e-12)
            logit_scale = ops.exp(ops.minimum(self.scale, math.log(100.0)))  # (heads, 1, 1)
            q = q * ops.cast(ops.reshape(logit_scale, (1, 1, self.num_heads, 1)), q.dtype)
            scale = 1.0
        if attends_per_head(q.shape[1]):
            return linear(self.proj, attention_per_head(q, k, v, scale))
        out = ops.dot_product_attention(q, k, v, scale=scale)
        return linear(self.proj, ops.reshape(out, (batch, tokens, self.inner_dim)))

    def get_config(self):
        config = super().get_config()
        config.update(
            dim=self.dim,
            num_heads=self.num_heads,
            qkv_bias=self.qkv_bias,
            head_dim=self.head_dim,
            cosine=self.cosine,
        )
        return config


def gelu(x):
    """Exact GELU as torch's ``nn.GELU`` computes it: ``x / 2 * (1 + erf(x / sqrt(2)))``.

    Keras's TensorFlow ``gelu`` uses ``erfc``, which the ONNX exporter cannot translate;
    this form exports to every format and equals torch's arithmetic."""
    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))


@keras.saving.register_keras_serializable(package="videomae_tf")
class Mlp(layers.Layer):
    """fc1 -> exact (erf) GELU -> fc2.

    Args:
        dim: the input and output width.
        hidden_dim: the width between fc1 and fc2.
    """

    def __init__(self, dim: int, hidden_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.fc1 = layers.Dense(hidden_dim, kernel_initializer=dense_init(), name="fc1",
                                dtype=self.dtype_policy)
        self.fc2 = layers.Dense(dim, kernel_initializer=dense_init(), name="fc2",
                                dtype=self.dtype_policy)

    def build(self, input_shape):
        self.fc1.build(input_shape)
        self.fc2.build(tuple(input_shape[:-1]) + (self.hidden_dim,))

    def call(self, x):
        return linear(self.fc2, linear(self.fc1, x, then_gelu=True))

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package="videomae_tf")
class DropPath(layers.Layer):
    """Stochastic depth per sample: drops the whole residual branch of a sample.

    Args:
        rate: the probability that a sample's branch is dropped (in training only).
        seed: seed of the layer's random generator.
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.rate > 0 else None

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype)
        return x / keep * ops.floor(keep + noise)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="videomae_tf")
class Block(layers.Layer):
    """Pre-norm transformer block with optional layer scale (gamma_1, gamma_2).

    Args:
        dim: the token width.
        num_heads: attention heads.
        mlp_ratio: the MLP's hidden width over ``dim``.
        qkv_bias: the attention's q_bias and v_bias.
        head_dim: width of an attention head (default ``dim // num_heads``).
        drop_path: stochastic depth rate of both residual branches.
        init_values: layer scale: gamma_1 and gamma_2 start at this (0: no layer scale).
        eps: epsilon of norm1 and norm2.
        cosine_attention: VideoMAE V2's cosine attention.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        head_dim: int | None = None,
        drop_path: float = 0.0,
        init_values: float = 0.0,
        eps: float = 1e-6,
        cosine_attention: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.dim = dim
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.head_dim = head_dim
        self.drop_path_rate = float(drop_path)
        self.init_values = float(init_values or 0.0)
        self.eps = eps
        self.cosine_attention = cosine_attention
        dtype = self.dtype_policy
        self.norm1 = layer_norm(eps, "norm1", dtype)
        self.attn = Attention(dim, num_heads, qkv_bias, head_dim, cosine_attention, name="attn",
                              dtype=dtype)
        self.norm2 = layer_norm(eps, "norm2", dtype)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), name="mlp", dtype=dtype)
        self.drop_path = DropPath(self.drop_path_rate, name="drop_path", dtype=dtype)

    def build(self, input_shape):
        for sub in (self.norm1, self.attn, self.norm2, self.mlp):
            sub.build(input_shape)
        if self.init_values > 0:
            init = keras.initializers.Constant(self.init_values)
            self.gamma_1 = self.add_weight(shape=(self.dim,), initializer=init, name="gamma_1")
            self.gamma_2 = self.add_weight(shape=(self.dim,), initializer=init, name="gamma_2")

    def call(self, x, training=False):
        y = self.attn(self.norm1(x))
        if self.init_values > 0:
            y = y * ops.cast(self.gamma_1, y.dtype)
        x = x + self.drop_path(y, training=training)
        y = self.mlp(self.norm2(x))
        if self.init_values > 0:
            y = y * ops.cast(self.gamma_2, y.dtype)
        return x + self.drop_path(y, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            dim=self.dim,
            num_heads=self.num_heads,
            mlp_ratio=self.mlp_ratio,
            qkv_bias=self.qkv_bias,
            head_dim=self.head_dim,
            drop_path=self.drop_path_rate,
            init_values=self.init_values,
            eps=self.eps,
            cosine_attention=self.cosine_attention,
        )
        return config

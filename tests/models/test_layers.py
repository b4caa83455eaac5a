"""The position table, attention and drop path against the official numerics (SPEC 2-4)."""

import numpy as np
import pytest

import keras
import tensorflow as tf

from videomae_tf.models.layers import (PER_HEAD_MIN_TOKENS, Attention, Block, DropPath, Mlp,
                                        attends_per_head, attention_per_head,
                                        gelu, has_one_pass_softmax, linear, sinusoid_table)


def test_sinusoid_row_one_matches_spec():
    table = sinusoid_table(1568, 384)
    np.testing.assert_allclose(table[1, :4], [0.84147096, 0.5403023, 0.81525064, 0.57910824], rtol=1e-6)
    assert table.dtype == np.float32


@pytest.mark.parametrize(
    "n, dim, total",
    [(1568, 384, 122425.859375), (1568, 768, 245745.0), (1568, 192, 60779.0195), (2048, 1408, 543941.75)],
)
def test_sinusoid_table_sums_match_spec(n, dim, total):
    table = sinusoid_table(n, dim)
    assert table.shape == (n, dim)
    assert float(table.sum(dtype=np.float64)) == pytest.approx(total, rel=1e-6)


def test_sinusoid_is_interleaved_not_halves():
    table = sinusoid_table(3, 4)
    n = 2
    expected = [np.sin(n), np.cos(n), np.sin(n / 100), np.cos(n / 100)]
    np.testing.assert_allclose(table[2], expected, rtol=1e-6)


def _attention_reference(x, qkv_w, q_bias, v_bias, proj_w, proj_b, heads, cosine_scale=None):
    """The official attention written out in numpy (weights in Keras layout): matmul,
    softmax, matmul, as the official code computes it (the layer uses the backend's fused
    attention or ``attention_per_head``); ``cosine_scale`` (heads, 1, 1): V2's cosine attention."""
    b, n, d = x.shape
    hd = d // heads
    qkv = x @ qkv_w + np.concatenate([q_bias, np.zeros_like(v_bias), v_bias])
    qkv = qkv.reshape(b, n, 3, heads, hd).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0] * hd**-0.5, qkv[1], qkv[2]
    if cosine_scale is not None:
        q = qkv[0] / np.linalg.norm(qkv[0], axis=-1, keepdims=True)
        k = k / np.linalg.norm(k, axis=-1, keepdims=True)
        q = q * np.exp(np.minimum(cosine_scale, np.log(100.0)))
    s = q @ k.transpose(0, 1, 3, 2)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    out = (a @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
    return out @ proj_w + proj_b


@pytest.mark.parametrize("tokens", [5, PER_HEAD_MIN_TOKENS])  # both attention forms
def test_attention_matches_numpy_reference_with_q_and_v_bias(tokens):
    rng = np.random.default_rng(0)
    layer = Attention(16, 4, name="attn")
    x = rng.normal(size=(2, tokens, 16)).astype("float32")
    layer.build(x.shape)
    for var in layer.weights:
        var.assign(rng.normal(size=var.shape).astype("float32") * 0.3)
    got = np.asarray(layer(x))
    want = _attention_reference(
        x, np.asarray(layer.qkv.kernel), np.asarray(layer.q_bias), np.asarray(layer.v_bias),
        np.asarray(layer.proj.kernel), np.asarray(layer.proj.bias), 4,
    )
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("tokens", [5, PER_HEAD_MIN_TOKENS])
def test_cosine_attention_matches_numpy_reference(tokens):
    rng = np.random.default_rng(1)
    layer = Attention(16, 4, cosine=True, name="attn")
    x = rng.normal(size=(2, tokens, 16)).astype("float32")
    layer.build(x.shape)
    for var in layer.weights:
        var.assign(rng.normal(size=var.shape).astype("float32") * 0.3 + (
            2.0 if var is layer.scale else 0.0))
    got = np.asarray(layer(x))
    want = _attention_reference(
        x, np.asarray(layer.qkv.kernel), np.asarray(layer.q_bias), np.asarray(layer.v_bias),
        np.asarray(layer.proj.kernel), np.asarray(layer.proj.bias), 4,
        cosine_scale=np.asarray(layer.scale))
    np.testing.assert_allclose(got, want, atol=1e-5)


def _qkv(seed: int, tokens: int = 40, heads: int = 3, head_dim: int = 8, spread: float = 2.0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(2, tokens, heads, head_dim)).astype("float32") * spread
            for _ in range(3)]


#: Both forms of ``attention_per_head``: one-pass softmax (TensorFlow outside XLA) and the
#: exp / sum form (under XLA).
FORMS = {"one_pass_softmax": lambda f: f, "xla_exp_sum": lambda f: tf.function(f, jit_compile=True)}


def test_softmax_form_follows_xla():
    seen = {}
    for name, wrap in FORMS.items():
        def probe(x, name=name):
            seen[name] = has_one_pass_softmax()
            return x
        wrap(probe)(tf.ones(1))
    assert seen == {"one_pass_softmax": True, "xla_exp_sum": False}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_attention_per_head_matches_dot_product_attention_in_fp32(form):
    q, k, v = _qkv(0)
    want = np.asarray(keras.ops.dot_product_attention(q, k, v, scale=8 ** -0.5))
    got = np.asarray(FORMS[form](lambda q, k, v: attention_per_head(q, k, v, 8 ** -0.5))(q, k, v))
    assert got.shape == (2, 40, 24)
    np.testing.assert_allclose(got, want.reshape(2, 40, 24), atol=1e-5)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_attention_per_head_gradients_match_dot_product_attention(form):
    q, k, v = (tf.constant(t) for t in _qkv(1))

    def grads(attend):
        def run(q, k, v):
            with tf.GradientTape() as tape:
                tape.watch([q, k, v])
                out = tf.reshape(attend(q, k, v), (2, 40, 24))
                loss = tf.reduce_sum(tf.sin(out))
            return tape.gradient(loss, [q, k, v])
        return FORMS[form](run)(q, k, v)

    fused = grads(lambda q, k, v: keras.ops.dot_product_attention(q, k, v, scale=0.3))
    for got, want in zip(grads(lambda q, k, v: attention_per_head(q, k, v, 0.3)), fused):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


def test_attention_form_follows_the_token_count():
    """TensorFlow (no fused kernel): head by head from PER_HEAD_MIN_TOKENS on."""
    assert not attends_per_head(PER_HEAD_MIN_TOKENS - 1)
    assert attends_per_head(PER_HEAD_MIN_TOKENS) and attends_per_head(None)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_attention_per_head_in_bfloat16_stays_within_its_bound(form):
    """bf16 inputs (8 mantissa bits, relative step 2^-8): the softmax, float32 inside,
    keeps the output within 0.05 of the fp32 result for O(1) values, and the scores do not
    overflow."""
    q, k, v = _qkv(2, spread=3.0)
    want = np.asarray(attention_per_head(q, k, v, 8 ** -0.5))
    half = [keras.ops.cast(t, "bfloat16") for t in (q, k, v)]
    got = FORMS[form](lambda q, k, v: attention_per_head(q, k, v, 8 ** -0.5))(*half)
    assert keras.backend.standardize_dtype(got.dtype) == "bfloat16"
    got = np.asarray(keras.ops.cast(got, "float32"))
    assert np.isfinite(got).all()
    assert np.abs(got - want).max() < 0.05 * max(1.0, np.abs(want).max())


def _dense_and_input(policy: str, use_bias: bool = True):
    layer = keras.layers.Dense(24, use_bias=use_bias, bias_initializer="random_normal",
                               dtype=policy)
    layer.build((None, 16))
    return layer, np.random.default_rng(3).standard_normal((2, 5, 16)).astype("float32")


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("then_gelu", [False, True])
def test_linear_equals_the_dense_layer_then_gelu(form, then_gelu):
    """``linear`` (TensorFlow: a 2-D MatMul + BiasAdd (+ GELU) that oneDNN fuses) against
    the Dense layer and ``gelu`` it replaces, with the layer's bias and with one given to a
    layer without its own (as ``qkv``)."""
    extra = np.linspace(-1, 1, 24).astype("float32")
    for use_bias, bias in ((True, None), (False, extra)):
        layer, x = _dense_and_input("float32", use_bias)
        want = np.asarray(layer(x)) + (0 if bias is None else bias)
        want = np.asarray(gelu(want)) if then_gelu else want
        got = FORMS[form](lambda x: linear(layer, x, bias, then_gelu=then_gelu))(x)
        assert tuple(got.shape) == (2, 5, 24)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_mlp_in_mixed_bfloat16_computes_in_bfloat16_near_float32():
    """Inside a layer under mixed_bfloat16, ``linear`` reads its kernel cast to bf16."""
    x = np.random.default_rng(3).standard_normal((2, 5, 16)).astype("float32")
    exact, half = Mlp(16, 24, dtype="float32"), Mlp(16, 24, dtype="mixed_bfloat16")
    exact.build(x.shape)
    half.build(x.shape)
    half.set_weights(exact.get_weights())
    want = np.asarray(exact(x))
    got = tf.function(lambda x: half(x))(x)
    assert got.dtype == tf.bfloat16
    assert np.abs(np.asarray(tf.cast(got, tf.float32)) - want).max() < 0.05 * np.abs(want).max()


def test_linear_gradients_equal_the_dense_layers():
    layer, x = _dense_and_input("float32")
    grads = []
    for call in (lambda: gelu(layer(x)), lambda: linear(layer, x, then_gelu=True)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(call() ** 2)
        grads.append(tape.gradient(loss, [layer.kernel.value, layer.bias.value]))
    for want, got in zip(*grads):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_cosine_attention_has_a_per_head_scale_initialised_to_ln10():
    layer = Attention(16, 4, cosine=True, name="attn")
    layer.build((1, 3, 16))
    assert tuple(layer.scale.shape) == (4, 1, 1)
    np.testing.assert_allclose(np.asarray(layer.scale), np.log(10.0), rtol=1e-6)
    assert layer(np.ones((1, 3, 16), "float32")).shape == (1, 3, 16)


def test_drop_path_drops_whole_samples_and_keeps_expectation():
    layer = DropPath(0.5, seed=1)
    x = np.ones((4000, 3, 2), "float32")
    y = np.asarray(layer(x, training=True))
    per_sample = y.reshape(4000, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(1) == per_sample.max(1))  # all or nothing per sample
    assert abs(per_sample.mean() - 1.0) < 0.1
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_layer_scale_weights_exist_only_with_init_values():
    plain = Block(16, 2, name="blocks_0")
    plain.build((1, 3, 16))
    scaled = Block(16, 2, init_values=0.1, name="blocks_0")
    scaled.build((1, 3, 16))
    names = lambda b: {w.name for w in b.weights}  # noqa: E731
    assert "gamma_1" not in names(plain) and {"gamma_1", "gamma_2"} <= names(scaled)
    np.testing.assert_allclose(np.asarray(scaled.gamma_1), 0.1)

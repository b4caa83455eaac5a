"""The masked autoencoder: token order, target normalisation and loss (SPEC 5)."""

import numpy as np
import pytest
from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER

from videomae_tf import VideoMAE_ViTS16PT, masking
from videomae_tf.masking import visible_and_reconstructed
from videomae_tf.models import reconstruction_loss, reconstruction_target
from videomae_tf.data.transforms import IMAGENET_MEAN, IMAGENET_STD


def numpy_target(clip, p=16, t=2):
    """SPEC 5 written directly: unnormalise, per-patch per-channel standardisation."""
    pixels = clip * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)
    b, frames, h, w, c = pixels.shape
    out = np.zeros((b, (frames // t) * (h // p) * (w // p), t * p * p * c))
    for n in range(b):
        token = 0
        for ti in range(frames // t):
            for yi in range(h // p):
                for xi in range(w // p):
                    patch = pixels[n, ti * t:(ti + 1) * t, yi * p:(yi + 1) * p, xi * p:(xi + 1) * p]
                    flat = patch.reshape(-1, c)  # rows ordered (t_in, y_in, x_in)
                    flat = (flat - flat.mean(0)) / (flat.std(0, ddof=1) + 1e-6)
                    out[n, token] = flat.reshape(-1)  # channel fastest
                    token += 1
    return out


def test_target_matches_direct_numpy_computation():
    clip = np.random.default_rng(0).normal(size=(2,) + TINY_CLIP).astype("float32")
    got = np.asarray(reconstruction_target(clip, 16, 2))
    np.testing.assert_allclose(got, numpy_target(clip.astype(np.float64)), atol=2e-4)


def test_target_without_normalisation_is_the_raw_patch():
    clip = np.random.default_rng(1).normal(size=(1,) + TINY_CLIP).astype("float32")
    got = np.asarray(reconstruction_target(clip, 16, 2, normalize=False))
    pixels = clip * np.array(IMAGENET_STD, "float32") + np.array(IMAGENET_MEAN, "float32")
    first = pixels[0, 0:2, 0:16, 0:16].reshape(-1)
    np.testing.assert_allclose(got[0, 0], first, atol=1e-6)
    second_token = pixels[0, 0:2, 0:16, 16:32].reshape(-1)  # raster order: w fastest
    np.testing.assert_allclose(got[0, 1], second_token, atol=1e-6)


def test_v1_loss_is_plain_mse_and_v2_counts_decoded_masked_tokens():
    rng = np.random.default_rng(2)
    target, pred = rng.normal(size=(2, 5, 6)), rng.normal(size=(2, 5, 6))
    assert float(reconstruction_loss(target, pred)) == pytest.approx(np.mean((target - pred) ** 2), rel=1e-5)
    weight = np.array([[1, 0, 1, 0, 0], [1, 1, 1, 1, 0]], "float32")
    per_token = ((target - pred) ** 2).mean(-1)
    expected = (per_token * weight).sum() / weight.sum()
    assert float(reconstruction_loss(target, pred, weight)) == pytest.approx(expected, rel=1e-5)


def test_decoder_input_order_visible_first_then_reconstructed_ascending():
    model = VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)
    clip = np.random.default_rng(3).normal(size=(1,) + TINY_CLIP).astype("float32")
    enc_mask = np.array([[0, 1, 1, 0, 1, 0, 1, 1]], bool)
    visible, rec = visible_and_reconstructed(enc_mask)
    np.testing.assert_array_equal(visible, [[0, 3, 5]])
    np.testing.assert_array_equal(rec, [[1, 2, 4, 6, 7]])
    # Rebuild the forward by hand from the model's own pieces.
    tokens = np.asarray(model.encoder(clip, visible))
    x = tokens @ np.asarray(model.encoder_to_decoder.kernel)
    table = model.decoder_pos_table
    mask_token = np.asarray(model.mask_token)[0]
    full = np.concatenate([x[0] + table[[0, 3, 5]], mask_token + table[[1, 2, 4, 6, 7]]])[None]
    want = np.asarray(model.decoder(full.astype("float32"), num_reconstruct=5))
    np.testing.assert_allclose(np.asarray(model.reconstruct(clip, enc_mask)), want, atol=1e-5)


def test_v2_decoder_mask_reconstructs_the_unmasked_tokens_including_visible_ones():
    model = VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)
    clip = np.random.default_rng(4).normal(size=(2,) + TINY_CLIP).astype("float32")
    enc = np.tile([[0, 1, 1, 0, 1, 0, 1, 1]], (2, 1)).astype(bool)
    dec = np.tile([[1, 0, 1, 0, 0, 1, 1, 0]], (2, 1)).astype(bool)
    out = model.reconstruct(clip, enc, dec)
    assert out.shape == (2, 4, 1536)  # tokens 1, 3, 4, 7; token 3 is also visible
    inputs = dict(zip(("visible_index", "reconstruct_index"), visible_and_reconstructed(enc, dec)),
                  pixel_values=clip)
    target = numpy_target(clip.astype(np.float64))[:, [1, 3, 4, 7]]
    per_token = ((np.asarray(out) - target) ** 2).mean(-1)
    expected = per_token[:, [0, 2, 3]].mean()  # token 3 was visible: not counted
    loss = float(model.loss_from_predictions(inputs, out))
    assert loss == pytest.approx(expected, rel=1e-4)


def test_reconstruct_checks_mask_shape_and_equal_counts():
    model = VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)
    clip = np.zeros((2,) + TINY_CLIP, "float32")
    with pytest.raises(ValueError, match=r"\(batch, 8\)"):
        model.reconstruct(clip, np.zeros((2, 9), bool))
    ragged = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]], bool)
    with pytest.raises(ValueError, match="same number"):
        model.reconstruct(clip, ragged)


def test_fit_lowers_the_reconstruction_loss():
    import keras

    keras.utils.set_random_seed(0)
    model = VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)
    rng = np.random.default_rng(0)
    t, y, x = np.meshgrid(np.arange(4), np.arange(32), np.arange(32), indexing="ij")
    phase = rng.uniform(0, 2 * np.pi, size=(16, 1, 1, 1, 3))
    clips = np.sin(0.3 * x[None, ..., None] + 0.2 * y[None, ..., None] + 0.5 * t[None, ..., None] + phase)
    clips = clips.astype("float32")  # smooth moving gratings: learnable structure
    masks = masking.batch_masks("tube", (2, 2, 2), 0.5, 16, seed=0)
    visible, rec = visible_and_reconstructed(masks)
    inputs = {"pixel_values": clips, "visible_index": visible, "reconstruct_index": rec}
    # XLA: without it TensorFlow's CPU Conv3D filter gradient takes minutes a step
    model.compile(optimizer=keras.optimizers.AdamW(1e-2), jit_compile=True)
    history = model.fit(inputs, epochs=30, batch_size=8, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert losses[-1] < 0.75 * losses[0], losses

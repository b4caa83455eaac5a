"""The pretraining loss: equal to transformers' (V1) and to SPEC 5 written out in numpy (V2)."""

import numpy as np
import pytest
import tensorflow as tf

from videomae_tf.masking import running_cell_maps, tube_mask
from videomae_tf.models import VideoMAEPretrainer
from videomae_tf.masking import visible_and_reconstructed
from videomae_tf.training.pretrain import pretraining_loss_fn

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def engine_loss(model, batch, predictions):
    """The batch mean of the engine's per-example losses."""
    return float(tf.reduce_mean(pretraining_loss_fn(model)(batch, tf.constant(predictions))))


def test_v1_loss_equals_transformers_norm_pix_loss(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from checkpoints_convert import convert

    config = transformers.VideoMAEConfig(
        image_size=32, patch_size=8, num_frames=4, tubelet_size=2, hidden_size=32,
        num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        decoder_hidden_size=16, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
        decoder_intermediate_size=32, norm_pix_loss=True, use_mean_pooling=False)
    torch.manual_seed(0)
    hf = transformers.VideoMAEForPreTraining(config).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # spread the weights so the predictions are O(1), not ~0
        for name, param in hf.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            parts = name.split(".")
            base = 1.0 if len(parts) > 1 and "norm" in parts[-2] and parts[-1] == "weight" else 0.0
            param.copy_(base + 0.2 * noise)
    hf.save_pretrained(tmp_path / "hf")
    model = convert(tmp_path / "hf", None, task="pretrain", progress=False, log=None).model
    assert model.decoder_config["normalize_target"]

    rng = np.random.default_rng(0)
    clip = rng.standard_normal((2, 4, 32, 32, 3)).astype("float32")
    mask = np.stack([tube_mask((2, 4, 4), 0.75, rng) for _ in range(2)])
    with torch.no_grad():
        out = hf(torch.from_numpy(clip.transpose(0, 1, 4, 2, 3).copy()),
                 bool_masked_pos=torch.from_numpy(mask))
    visible, reconstruct = visible_and_reconstructed(mask)
    batch = {"pixel_values": clip, "visible_index": visible, "reconstruct_index": reconstruct}
    predictions = np.asarray(model(batch))
    np.testing.assert_allclose(predictions, out.logits.numpy(), atol=1e-4)
    reference = float(out.loss)
    assert reference > 0.5  # a real, O(1) loss
    assert float(model.loss_from_predictions(batch, predictions)) == pytest.approx(reference, abs=1e-5)
    assert engine_loss(model, batch, predictions) == pytest.approx(reference, abs=1e-5)
    # the same clip and mask through the model's own call, not the HF logits
    assert engine_loss(model, batch, out.logits.numpy()) == pytest.approx(reference, abs=1e-5)


def spec5_target(clip, p, s):
    """SPEC 5 in numpy, float64: unnormalise, tubelet patches (t_in, y_in, x_in), per channel
    (v - mean) / (sqrt(unbiased var) + 1e-6), flattened channel fastest."""
    b, t, h, w, c = clip.shape
    pixels = clip.astype(np.float64) * STD + MEAN
    out = np.zeros((b, (t // s) * (h // p) * (w // p), s * p * p * c))
    for n in range(b):
        token = 0
        for ti in range(t // s):
            for yi in range(h // p):
                for xi in range(w // p):
                    patch = pixels[n, ti * s:(ti + 1) * s, yi * p:(yi + 1) * p, xi * p:(xi + 1) * p]
                    values = patch.reshape(-1, c)  # (t_in, y_in, x_in) rows, channel columns
                    values = (values - values.mean(0)) / (values.std(0, ddof=1) + 1e-6)
                    out[n, token] = values.reshape(-1)  # channel fastest
                    token += 1
    return out


def test_v2_loss_with_decoder_mask_equals_spec5_in_numpy():
    model = VideoMAEPretrainer(img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1,
                               num_heads=2, decoder_embed_dim=16, decoder_depth=1,
                               decoder_num_heads=2)
    rng = np.random.default_rng(3)
    clip = rng.standard_normal((3, 4, 32, 32, 3)).astype("float32")
    grid = (2, 4, 4)
    encoder_mask = np.stack([tube_mask(grid, 0.75, rng) for _ in range(3)])
    decoder_mask = running_cell_maps(grid, 0.5)[[0, 1, 3]]
    visible, reconstruct = visible_and_reconstructed(encoder_mask, decoder_mask)
    batch = {"pixel_values": clip, "visible_index": visible, "reconstruct_index": reconstruct}
    predictions = np.asarray(model(batch))
    assert predictions.shape == (3, 16, 384)

    # SPEC 5: decoded tokens = NOT decoder-masked (ascending); loss per token = mean over
    # values; averaged over the tokens decoded AND encoder-masked, over the whole batch.
    target = spec5_target(clip, 8, 2)
    total, count = 0.0, 0
    for n in range(3):
        decoded = np.flatnonzero(~decoder_mask[n])
        per_token = ((predictions[n].astype(np.float64) - target[n, decoded]) ** 2).mean(-1)
        counted = encoder_mask[n, decoded]
        total += per_token[counted].sum()
        count += counted.sum()
    assert 0 < count < 3 * 16  # some decoded tokens were visible to the encoder: not counted
    expected = total / count
    assert float(model.loss_from_predictions(batch, predictions)) == pytest.approx(expected, rel=1e-5)
    assert engine_loss(model, batch, predictions) == pytest.approx(expected, rel=1e-5)
    # per-example counts differ, so a mean of per-example means would not be the official loss
    counts = [encoder_mask[n, np.flatnonzero(~decoder_mask[n])].sum() for n in range(3)]
    assert len(set(counts)) > 1

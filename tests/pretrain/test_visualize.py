"""Reconstruction pictures: sizes, a readable PNG and GIF, and exact pixels for a perfect
prediction (the original patch statistics put back, SPEC 5)."""

import json

import cv2
import numpy as np
import pytest

from videomae_tf import masking
from videomae_tf.masking import tube_mask
from videomae_tf.models import VideoMAEClassifier, VideoMAEPretrainer, load_model, save_weights
from videomae_tf.models.encoder import gather_tokens
from videomae_tf.visualize import (frame_grid, read_video_clip,
                                   reconstruct_video, to_uint8, unnormalize, visualize)

TINY = dict(img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2,
            decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def natural_clip(batch=2, seed=0):
    """Normalised clips of [0, 1] pixels (so nothing is clipped on the way back)."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0.05, 0.95, (batch, 4, 32, 32, 3)).astype("float32")
    pixels[:, :, :16] *= np.linspace(0.3, 1.0, 16)[:, None, None]  # some structure
    return (pixels - MEAN) / STD, pixels


@pytest.mark.parametrize("normalize_target", [True, False])
def test_a_perfect_prediction_gives_back_the_original(normalize_target):
    model = VideoMAEPretrainer(normalize_target=normalize_target, **TINY)
    clip, pixels = natural_clip()
    rng = np.random.default_rng(1)
    mask = np.stack([tube_mask((2, 4, 4), 0.75, rng) for _ in range(2)])
    masked_index = np.stack([np.flatnonzero(m) for m in mask])
    perfect = np.asarray(gather_tokens(model.target(clip), masked_index))  # the true target
    videos = reconstruct_video(clip, mask, perfect, patch_size=8, tubelet_size=2,
                               normalize_target=normalize_target)
    np.testing.assert_allclose(videos["original"], pixels, atol=1e-5)
    np.testing.assert_allclose(videos["reconstruction"], pixels, atol=1e-5)
    # a wrong prediction changes exactly the masked patches
    wrong = reconstruct_video(clip, mask, perfect + 0.5, patch_size=8, tubelet_size=2,
                              normalize_target=normalize_target)["reconstruction"]
    changed = np.abs(wrong - pixels).max(-1) > 1e-4  # (B, T, H, W)
    token_mask = mask.reshape(2, 2, 4, 4).repeat(2, 1).repeat(8, 2).repeat(8, 3)
    assert changed[~token_mask].sum() == 0 and changed[token_mask].mean() > 0.5
    # the masked input: original where visible, the fill value where hidden
    masked = videos["masked"]
    np.testing.assert_allclose(masked[~token_mask], pixels[~token_mask], atol=1e-5)
    assert np.all(masked[token_mask] == 0)


def test_frame_grid_size_and_layout():
    videos = [np.full((5, 6, 7, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]
    grid = frame_grid(videos, gap=2, scale=3)
    assert grid.shape == (3 * 18 + 2 * 2, 5 * 21 + 4 * 2, 3)
    assert grid[0, 0, 0] == 0 and grid[20, 0, 0] == 128 and grid[-1, -1, 0] == 255
    assert grid[18, 0, 0] == 255  # the gap


@pytest.fixture(scope="module")
def pretrained_file(tmp_path_factory):
    model = VideoMAEPretrainer(normalize_target=True, **TINY)
    return save_weights(model, tmp_path_factory.mktemp("vis") / "tiny_pt.weights.h5")


def test_visualize_writes_a_legible_titled_png_and_gif(pretrained_file, synthetic, tmp_path):
    video = synthetic["root"] / open(synthetic["train"]).readline().split()[0]
    result = visualize(video, pretrained_file, tmp_path / "out", mask_ratio=0.75, show_error=True)
    assert result["num_masked"] == 24 and result["num_tokens"] == 32
    assert len(result["frame_indices"]) == 4 and set(np.diff(result["frame_indices"])) == {4}
    png = cv2.cvtColor(cv2.imread(result["png"]), cv2.COLOR_BGR2RGB)
    cell, gap = 96, 4  # 32-pixel frames enlarged 3 x to a legible height
    assert png.shape[0] >= 4 * cell + 60 and png.shape[1] >= 4 * cell + 60
    # where the original's first frame sits: below the title band, right of the row names
    clip, _ = read_video_clip(video, 4, 32, start=None)
    # the loss: the mean squared error on the hidden tokens of seed 0's mask
    model = load_model(pretrained_file)
    mask = masking.make_mask("tube", model.encoder.grid, 0.75, np.random.default_rng(0))
    predictions = np.asarray(model.reconstruct(clip[None], mask[None]))
    target = np.asarray(gather_tokens(model.target(clip[None]), np.flatnonzero(mask)[None]))
    assert result["loss"] == pytest.approx(np.mean((predictions - target) ** 2), rel=1e-5)
    first = to_uint8(unnormalize(clip[0])).repeat(3, 0).repeat(3, 1)
    found = cv2.matchTemplate(png, first, cv2.TM_SQDIFF)
    _, _, (left, top), _ = cv2.minMaxLoc(found)
    np.testing.assert_array_equal(png[top:top + cell, left:left + cell], first)
    assert top >= 50 and left >= 60
    assert (png[:top - 20] < 128).any(), "the title band holds a title"
    rows = [png[top + r * (cell + gap):top + r * (cell + gap) + cell] for r in range(4)]
    for r, row in enumerate(rows):  # one row per kind, each named on the left
        assert (row[:, :left - 4] < 128).any(), f"row {r} has no name"
    masked = rows[1][:, left:left + cell]
    assert (masked == 128).all(axis=-1).mean() > 0.5, "hidden patches show as grey"
    assert png.shape[0] < top + 4 * (cell + gap) + 20, "exactly four rows"
    ok, animation = cv2.imreadanimation(result["gif"])
    assert ok and len(animation.frames) == 4
    frame = animation.frames[0]
    assert frame.shape[0] == png.shape[0] and frame.shape[1] >= left + cell  # same layout
    assert (frame[:top - 20] < 128).any()


def test_long_clips_show_a_frame_subset():
    from videomae_tf.visualize import frame_subset, legible_scale

    assert frame_subset(4) == [0, 1, 2, 3]
    assert frame_subset(16) == [0, 2, 4, 6, 9, 11, 13, 15]
    assert legible_scale(32) == 3 and legible_scale(224) == 1 and legible_scale(100) == 1


def test_visualize_refuses_a_classifier(synthetic, tmp_path):
    encoder = {k: v for k, v in TINY.items() if not k.startswith("decoder")}
    path = save_weights(VideoMAEClassifier(num_classes=3, **encoder), tmp_path / "cls.weights.h5")
    video = synthetic["root"] / open(synthetic["train"]).readline().split()[0]
    with pytest.raises(ValueError, match="pretraining model"):
        visualize(video, path, tmp_path / "out")


def test_cli_pretrain_and_visualize(pretrained_file, synthetic, tmp_path, capsys):
    from videomae_tf.cli import main

    assert main(["pretrain", "--recipe", "synthetic_v2", "--output", "run", "--epochs", "3",
                 "--decoder-mask", "none", "--set", "data.num_sample=3", "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["epochs"] == 3 and config["output_dir"] == "run"
    assert config["decoder_mask_type"] is None and config["data"]["num_sample"] == 3
    video = synthetic["root"] / open(synthetic["train"]).readline().split()[0]
    assert main(["visualize", str(video), "--weights", str(pretrained_file),
                 "--output", str(tmp_path), "--mask-ratio", "0.5"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["num_masked"] == 16
    same = visualize(video, pretrained_file, tmp_path / "api", mask_ratio=0.5)  # what it ran
    assert shown["loss"] == pytest.approx(same["loss"], rel=1e-6)
    np.testing.assert_array_equal(cv2.imread(shown["png"]), cv2.imread(same["png"]))

"""``videomae_tf.features``: embeddings equal the model's own features, reruns skip what is
written, and a corrupt video is reported while the others are written."""

import numpy as np
import pytest

from tests.tiny_configs import TINY
from videomae_tf import VideoMAEClassifier, VideoMAEPretrainer
from videomae_tf.data import transforms
from videomae_tf.data.decoders import VideoReader, read_clip
from videomae_tf.data import sampling
from videomae_tf.evaluation import TestViews as Views  # not collected as a test class
from videomae_tf.features import extract_features, feature_names, load_features

VIDEOS = ("arm_wrestling_k400.mp4", "corrupted.mp4", "flipping_pancake.mkv", "short_32_frames.mp4")


def _centre_views(path, clip_shape, num_clips, rate=4):
    """``num_clips`` official test clips, one centre crop each: (clips, T, H, W, 3), built
    here from the decoder and the transforms."""
    frames, crop = clip_shape[0], clip_shape[1]
    views = []
    for indices in sampling.dense_test_indices(len(VideoReader(path)), frames, rate, num_clips):
        video, _ = read_clip(path, indices)
        video = transforms.resize_short_side(video, crop)
        views.append(transforms.normalize(transforms.center_crop(video, crop)))
    return np.stack(views)


@pytest.fixture(scope="module")
def classifier():
    return VideoMAEClassifier(num_classes=3, **TINY)


def test_pooled_features_equal_forward_features(classifier, shared_data, tmp_path):
    """Two clips per video (the second clip of corrupted.mp4 cannot be decoded)."""
    videos = [shared_data / "videos" / v for v in VIDEOS]
    report = extract_features(classifier, videos, tmp_path / "out", root=shared_data,
                              views=Views(2, 1), per_clip=True, token_map=True,
                              progress=False)
    assert sorted(report.written) == ["videos/arm_wrestling_k400", "videos/flipping_pancake",
                                      "videos/short_32_frames"]
    assert list(report.failed) == [str(shared_data / "videos" / "corrupted.mp4")]
    for name in report.written:
        clips = _centre_views(shared_data / f"{name}{'.mkv' if 'pancake' in name else '.mp4'}",
                              classifier.clip_shape, num_clips=2)
        per_view = np.asarray(classifier.forward_features(clips))
        out = tmp_path / "out"
        np.testing.assert_allclose(np.load(out / f"{name}.clips.npy"), per_view, atol=1e-5)
        np.testing.assert_allclose(np.load(out / f"{name}.npy"), per_view.mean(axis=0),
                                   atol=1e-5)
        np.testing.assert_allclose(np.load(out / f"{name}.tokens.npy"),
                                   np.asarray(classifier.forward_token_map(clips)), atol=1e-5)
    # a rerun writes nothing new and reports the same failure
    again = extract_features(classifier, videos, tmp_path / "out", root=shared_data,
                             views=Views(2, 1), progress=False)
    assert again.written == [] and sorted(again.skipped) == sorted(report.written)
    assert list(again.failed) == list(report.failed)


def test_h5_multiview_mean_and_resume(classifier, shared_data, tmp_path):
    video = shared_data / "videos" / "arm_wrestling_k400.mp4"
    views = Views(num_clips=2, num_crops=3)
    out = tmp_path / "f.h5"
    first = extract_features(classifier, [video], out, views=views, per_clip=True,
                             progress=False)
    assert first.written == ["arm_wrestling_k400"]
    per_view = load_features(out, ["arm_wrestling_k400"], kind="clips")[0]
    assert per_view.shape == (6, TINY["embed_dim"])
    np.testing.assert_allclose(load_features(out, ["arm_wrestling_k400"])[0],
                               per_view.mean(axis=0), rtol=1e-6)
    second = extract_features(classifier, [video, shared_data / "videos" / "short_32_frames.mp4"],
                              out, views=views, progress=False)
    assert second.skipped == ["arm_wrestling_k400"] and second.written == ["short_32_frames"]
    assert load_features(out, ["arm_wrestling_k400", "short_32_frames"]).shape == (2, 32)
    with pytest.raises(KeyError, match="nope"):
        load_features(out, ["nope"])


def test_pretrainer_features_are_the_mean_encoder_token(shared_data, tmp_path):
    from tests.tiny_configs import TINY_DECODER

    model = VideoMAEPretrainer(**TINY, **TINY_DECODER)
    video = shared_data / "videos" / "flipping_pancake.mkv"
    extract_features(model, [video], tmp_path, views=Views(1, 1), progress=False)
    clip = _centre_views(video, model.encoder.clip_shape, num_clips=1)
    expected = np.asarray(model.encoder(clip)).mean(axis=1)[0]
    np.testing.assert_allclose(np.load(tmp_path / "flipping_pancake.npy"), expected,
                               rtol=1e-5, atol=1e-5)


def test_feature_names_are_relative_and_unique(tmp_path):
    assert feature_names([str(tmp_path / "a" / "x.mp4"), str(tmp_path / "b" / "x.mp4")],
                         tmp_path) == ["a/x", "b/x"]
    assert feature_names(["/elsewhere/y.avi"], tmp_path) == ["y"]
    with pytest.raises(ValueError, match="same features 'x'"):
        feature_names([str(tmp_path / "a" / "x.mp4"), str(tmp_path / "b" / "x.mp4")])

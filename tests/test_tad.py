"""Dense-window TAD features (issue 27): the windows of VideoMAE V2's extract_tad_feature.py
(starts ``range(0, num_frames - 15, stride)``, 16 consecutive frames, each scaled to [0, 1]
and resized with torch's bilinear interpolation), checked on real videos of several lengths
against that rule computed independently (decord-style ``get_batch`` of the window's
frames, ``torch.nn.functional.interpolate``), and each window's features against the
model's pooled features of that clip."""

import numpy as np
import pytest

from tests.tiny_configs import TINY
from videomae_tf.cli import main
from videomae_tf.errors import InputError
from videomae_tf.tad import TAD_PRESETS, TadWindows, parse_size, tad_window_starts, tad_windows

#: A tiny model whose clip is a TAD window of 16 frames at 32x32.
WINDOW_MODEL = dict(TINY, num_frames=16)
WINDOWS = TadWindows(length=16, stride=4, size=(32, 32))

#: The decoder both sides read frames with: PyAV decodes in order, so the frames compared
#: are the same (decord's seeking, once seen to give another frame of the XVID file under
#: load, is not what is tested here).
BACKEND = "pyav"

#: Real videos of several lengths (frames): 32, 45 (portrait), 164 (XVID).
VIDEOS = ("short_32_frames.mp4", "ma52_shaking_head_0035_02_0007.mp4", "mmaction2_test_xvid.avi")


def official_windows(path, stride: int, size: tuple[int, int]):
    """(starts, clips) by the official script's rule: the window's frames read at once
    (``vr.get_batch(np.arange(s, s + 16))``), [0, 1] floats, ``interpolate`` to ``size``."""
    import torch

    from videomae_tf.data.decoders import VideoReader

    reader = VideoReader(path, BACKEND, timeout=None)
    starts = list(range(0, len(reader) - 15, stride))
    clips = []
    for start in starts:
        frames = torch.from_numpy(reader.get_batch(np.arange(start, start + 16)))
        video = frames.permute(3, 0, 1, 2).to(torch.float32) / 255  # (C, T, H, W)
        resized = torch.nn.functional.interpolate(video, size=size, mode="bilinear",
                                                  align_corners=False)
        clips.append(resized.permute(1, 2, 3, 0).numpy())  # (T, H, W, C)
    reader.close()
    return starts, clips


@pytest.mark.parametrize("name", VIDEOS)
def test_windows_are_the_official_scripts(shared_data, name):
    from videomae_tf.data.decoders import VideoReader

    path = shared_data / "videos" / name
    for stride in (4, 16):
        windows = TadWindows(16, stride, (32, 48))
        reader = VideoReader(path, BACKEND, timeout=None)
        ours = list(tad_windows(reader.iter_frames(), windows))
        starts, clips = official_windows(path, stride, (32, 48))
        assert [s for s, _ in ours] == starts == list(tad_window_starts(len(reader), windows))
        assert len(starts) >= 1
        for (_, clip), official in zip(ours, clips):
            assert clip.shape == (16, 32, 48, 3) and clip.dtype == np.float32
            np.testing.assert_allclose(clip, official, atol=2e-6)


def test_a_video_shorter_than_one_window_has_none(shared_data):
    from videomae_tf.data.decoders import VideoReader

    path = shared_data / "videos" / "rotation_0.mov"  # 3 frames
    assert list(tad_windows(VideoReader(path, timeout=None).iter_frames(), WINDOWS)) == []
    assert official_windows(path, 4, (32, 32))[0] == []
    assert list(tad_window_starts(15, WINDOWS)) == [] and list(tad_window_starts(16, WINDOWS)) == [0]


def test_presets_are_the_official_settings():
    assert TAD_PRESETS["thumos14"] == TadWindows(16, 4, (224, 224), normalize=False)
    assert TAD_PRESETS["fineaction"] == TadWindows(16, 16, (224, 224), normalize=False)


@pytest.mark.parametrize("size, expected", [(224, (224, 224)), ("224x160", (224, 160)),
                                            ("32", (32, 32)), ((8, 16), (8, 16))])
def test_sizes_are_parsed(size, expected):
    assert parse_size(size) == expected


@pytest.mark.parametrize("size", ["224x", "0x10", "big", (1, 2, 3), 2.5, True])
def test_bad_sizes_are_named(size):
    with pytest.raises(InputError, match="size"):
        parse_size(size)


@pytest.fixture(scope="module")
def window_model():
    from videomae_tf.models import VideoMAEClassifier

    model = VideoMAEClassifier(num_classes=3, **WINDOW_MODEL)
    model(np.zeros((1, 16, 32, 32, 3), "float32"))
    return model


def test_features_are_each_windows_pooled_features(shared_data, window_model, tmp_path):
    from videomae_tf.features import extract_features

    videos = [shared_data / "videos" / n for n in (*VIDEOS[:2], "rotation_0.mov", "corrupted.mp4")]
    report = extract_features(window_model, videos, tmp_path / "tad", windows=WINDOWS,
                              batch_size=3, backend=BACKEND, progress=False)
    assert report.written == ["short_32_frames", "ma52_shaking_head_0035_02_0007"]
    assert "shorter than one 16-frame window" in report.failed[str(videos[2])]
    assert str(videos[3]) in report.failed
    for path in videos[:2]:
        features = np.load(tmp_path / "tad" / f"{path.stem}.npy")
        _, clips = official_windows(path, 4, (32, 32))
        expected = window_model.forward_backbone(np.stack(clips), training=False)["pooled"]
        assert features.shape == (len(clips), window_model.embed_dim)
        np.testing.assert_allclose(features, np.asarray(expected), atol=1e-4)
    again = extract_features(window_model, videos[:2], tmp_path / "tad", windows=WINDOWS,
                             progress=False)
    assert again.written == [] and len(again.skipped) == 2  # resumed: nothing redone


def test_a_model_whose_clip_is_not_a_window_is_refused(window_model, tmp_path):
    from videomae_tf.features import extract_features

    with pytest.raises(InputError, match=r"the model takes 16-frame 32x32 clips, but the TAD "
                                         r"windows are 16 frames resized to 224x224"):
        extract_features(window_model, [], tmp_path / "x", windows="thumos14")
    with pytest.raises(InputError, match="unknown TAD preset 'thumos'"):
        extract_features(window_model, [], tmp_path / "x", windows="thumos")
    assert not (tmp_path / "x").exists()


def test_cli_writes_tad_features_to_h5(shared_data, window_model, tmp_path, capsys):
    import h5py

    from videomae_tf.models.saving import save_weights

    weights = tmp_path / "model.weights.h5"
    save_weights(window_model, weights)
    video = shared_data / "videos" / "short_32_frames.mp4"
    argv = ["features", str(video), "--weights", str(weights), "--output",
            str(tmp_path / "tad.h5"), "--tad", "fineaction", "--resize", "32x32"]
    assert main(argv) == 0, capsys.readouterr().err
    with h5py.File(tmp_path / "tad.h5") as f:
        assert f["short_32_frames"]["pooled"].shape == (2, window_model.embed_dim)  # 0, 16
    assert main(argv[:-4] + ["--windows", "0"]) == 2
    assert "TAD window length must be an integer >= 1, got 0" in capsys.readouterr().err
    assert main(argv + ["--token-map"]) == 2
    assert "TAD windows give one (windows, D) array per video" in capsys.readouterr().err


def test_an_output_made_with_other_settings_is_not_resumed_into(shared_data, window_model,
                                                                 tmp_path):
    from videomae_tf.features import extract_features

    video = shared_data / "videos" / "short_32_frames.mp4"
    for output in (tmp_path / "folder", tmp_path / "file.h5"):
        extract_features(window_model, [video], output, windows=WINDOWS, progress=False)
        other = TadWindows(16, 16, (32, 32))
        with pytest.raises(InputError, match=r"holds features made with other settings "
                                             r"\(stride=4 there, 16 now\)"):
            extract_features(window_model, [video], output, windows=other, progress=False)
        with pytest.raises(InputError, match=r"kind='tad' there, 'views' now"):
            extract_features(window_model, [video], output, progress=False)

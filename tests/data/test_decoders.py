"""VideoReader on the shared real videos, with every installed backend."""

import time
from pathlib import Path

import numpy as np
import pytest

from videomae_tf.data import decoders
from videomae_tf.data.decoders import (VideoDecodeError, VideoReader, available_backends,
                                       read_clip, resolve_backend)

VIDEOS = Path(__file__).resolve().parents[2] / "../shared/data/videos"
needs_videos = pytest.mark.skipif(not VIDEOS.is_dir(),
                                  reason=f"shared test videos not found at {VIDEOS}")
BACKENDS = available_backends()

# name -> (frames, fps, height, width) after rotation, as in shared/data/README.md
GOOD = {
    "arm_wrestling_k400.mp4": (280, 28.0, 256, 340),
    "mmaction2_test.mp4": (300, 30.0, 256, 340),
    "mmaction2_test_xvid.avi": (164, 25.0, 240, 320),
    "short_32_frames.mp4": (32, 30.0, 256, 340),
    "flipping_pancake.mkv": (310, 30.0, 240, 426),
    "ma52_nodding_0019_02_0078.mp4": (50, 30.0, 1296, 1080),
    "rotation_0.mov": (3, 30.0, 320, 568),
    "rotation_90.mov": (3, 30.0, 568, 320),
    "unordered_timestamps.mov": (4, 32.0, 50, 50),
}


def _spread(n):
    return sorted({0, 1, n // 3, n // 2, n - 2, n - 1})


@needs_videos
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(GOOD))
def test_shapes_counts_and_ranges(name, backend):
    frames, fps, height, width = GOOD[name]
    with VideoReader(VIDEOS / name, backend) as reader:
        # OpenCV estimates the Matroska count from the duration (311 for 310 frames)
        assert reader.num_frames == frames or (backend == "opencv" and name.endswith(".mkv")
                                               and reader.num_frames == frames + 1)
        assert reader.fps == pytest.approx(fps, rel=1e-3)
        batch = reader.get_batch(_spread(frames))
    assert batch.shape == (len(_spread(frames)), height, width, 3)
    assert batch.dtype == np.uint8
    assert batch.max() > batch.min()  or name == "unordered_timestamps.mov"  # all-white asset


@needs_videos
@pytest.mark.parametrize("name", sorted(GOOD))
def test_backends_agree(name):
    """Every backend returns the same pixels (exact for H.264 on our ffmpeg builds).

    XVID: decord sometimes returns frame 162 for the last frame (163) of this B-frame AVI
    (a seek quirk; the two frames differ by 0.14 grey levels on average), so the
    tolerance there is looser."""
    if len(BACKENDS) < 2:
        pytest.skip("only one video backend installed")
    n = GOOD[name][0]
    if name.startswith("ma52"):  # 1080x1296: keep the sequential decoders' work small
        n = 12
    indices = [n - 1, 0, n // 2, n // 2]  # any order, repeats allowed
    reference = VideoReader(VIDEOS / name, BACKENDS[0]).get_batch(indices).astype(np.int16)
    for backend in BACKENDS[1:]:
        other = VideoReader(VIDEOS / name, backend).get_batch(indices).astype(np.int16)
        diff = np.abs(other - reference)
        if name.endswith(".avi"):
            assert diff.mean() < 0.5, (backend, diff.mean())
        else:
            assert diff.mean() < 0.05 and diff.max() <= 3, (backend, diff.mean(), diff.max())


@needs_videos
def test_portrait_ma52_all_frames():
    with VideoReader(VIDEOS / "ma52_shaking_head_0035_02_0007.mp4") as reader:
        assert reader.num_frames == 45
        batch = reader.get_batch(range(0, 45, 3))
    assert batch.shape == (15, 1296, 1080, 3)


@needs_videos
@pytest.mark.parametrize("backend", BACKENDS)
def test_rotated_mov_comes_out_portrait(backend):
    """Rotation metadata is applied by every backend (decord, OpenCV natively, PyAV by us)."""
    upright = VideoReader(VIDEOS / "rotation_90.mov", backend).get_batch([0, 2])
    assert upright.shape == (2, 568, 320, 3)
    if backend != BACKENDS[0]:
        reference = VideoReader(VIDEOS / "rotation_90.mov", BACKENDS[0]).get_batch([0, 2])
        assert np.abs(upright.astype(int) - reference).mean() < 0.05


@needs_videos
@pytest.mark.parametrize("backend", BACKENDS)
def test_resize_at_decode_time(backend):
    with VideoReader(VIDEOS / "arm_wrestling_k400.mp4", backend, width=170, height=128) as r:
        small = r.get_batch([5, 100])
    assert small.shape == (2, 128, 170, 3)
    full = VideoReader(VIDEOS / "arm_wrestling_k400.mp4", backend).get_batch([5, 100])
    # any sane scaler keeps the picture: compare with a 2x2 box average of the original
    boxed = full.reshape(2, 128, 2, 170, 2, 3).mean(axis=(2, 4))
    assert np.abs(small - boxed).mean() < 6
    rotated = VideoReader(VIDEOS / "rotation_90.mov", backend, width=160, height=284)
    assert rotated.get_batch([0]).shape == (1, 284, 160, 3)


@needs_videos
@pytest.mark.parametrize("backend", BACKENDS)
def test_too_short_video_and_bad_index(backend):
    reader = VideoReader(VIDEOS / "short_32_frames.mp4", backend)
    assert reader.num_frames == 32
    assert reader.get_batch([31] * 3).shape == (3, 256, 340, 3)
    with pytest.raises(IndexError, match="out of range"):
        reader.get_batch([0, 32])


@needs_videos
@pytest.mark.parametrize("backend", BACKENDS)
def test_corrupted_file_raises_one_clear_error(backend):
    path = VIDEOS / "corrupted.mp4"
    start = time.monotonic()
    with pytest.raises(VideoDecodeError, match="corrupted.mp4") as info:
        reader = VideoReader(path, backend, timeout=30)
        reader.get_batch(range(0, reader.num_frames, 4))
    assert info.value.path == str(path) and info.value.reason
    assert time.monotonic() - start < 30


def test_missing_and_non_video_files(tmp_path):
    with pytest.raises(VideoDecodeError, match="no such file"):
        VideoReader(tmp_path / "nope.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 100)
    for backend in BACKENDS:
        with pytest.raises(VideoDecodeError, match="notes.mp4"):
            VideoReader(text, backend).get_batch([0])


def test_slow_decode_is_abandoned(tmp_path, monkeypatch):
    """A decode that hangs (decord on over-reported frame counts) must not hang us."""

    class Hanging:
        num_frames, fps = 10, 25.0

        def __init__(self, *args):
            pass

        def get_batch(self, indices):
            time.sleep(30)

        def close(self):
            pass

    monkeypatch.setitem(decoders._IMPLEMENTATIONS, "opencv", Hanging)
    monkeypatch.setattr(decoders, "resolve_backend", lambda name: "opencv")
    path = tmp_path / "hangs.mp4"
    path.write_bytes(b"\0")
    before = decoders.abandoned_decodes()
    start = time.monotonic()
    reader = VideoReader(path, "opencv", timeout=0.3)
    with pytest.raises(VideoDecodeError, match=r"hangs.mp4.*did not finish within 0.3 s"):
        reader.get_batch([0, 1])
    with pytest.raises(VideoDecodeError, match="did not finish"):
        read_clip(path, lambda n, fps: range(n), backend="opencv", timeout=0.3)
    assert time.monotonic() - start < 3
    assert decoders.abandoned_decodes() == before + 2


@needs_videos
def test_read_clip_with_a_sampler():
    seen = {}

    def sampler(num_frames, fps):
        seen["n"], seen["fps"] = num_frames, fps
        return np.arange(0, num_frames, 20)

    frames, indices = read_clip(VIDEOS / "mmaction2_test_xvid.avi", sampler)
    assert seen == {"n": 164, "fps": 25.0}
    assert indices.tolist() == list(range(0, 164, 20))
    assert frames.shape == (9, 240, 320, 3)


def test_backend_selection(monkeypatch):
    assert resolve_backend("auto") == BACKENDS[0]
    assert resolve_backend("cv2") == "opencv" and resolve_backend("AV") == "pyav"
    with pytest.raises(ValueError, match="unknown video backend 'ffmpeg'"):
        resolve_backend("ffmpeg")
    real = decoders.importlib.util.find_spec
    monkeypatch.setattr(decoders.importlib.util, "find_spec",
                        lambda name: None if name == "decord" else real(name))
    assert resolve_backend("auto") == "pyav"
    with pytest.raises(ImportError, match="needs the 'decord' package"):
        resolve_backend("decord")


def test_width_and_height_go_together(tmp_path):
    with pytest.raises(ValueError, match="both width and height"):
        VideoReader(tmp_path / "x.mp4", width=100)


def test_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(VideoDecodeError("/a/b.mp4", "broken")))
    assert (err.path, err.reason, str(err)) == ("/a/b.mp4", "broken",
                                                "cannot decode video '/a/b.mp4': broken")


def test_frame_folder(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(5, 24, 32, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):  # lossless PNG; names sort in frame order
        cv2.imwrite(str(tmp_path / f"img_{i + 1:05d}.png"), frame[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "x_00001.png"), frames[0])  # optical flow: ignored
    reader = VideoReader(tmp_path)
    assert (reader.backend, reader.num_frames, reader.fps) == ("frames", 5, 0.0)
    np.testing.assert_array_equal(reader.get_batch([4, 0, 2]), frames[[4, 0, 2]])
    assert VideoReader(tmp_path, width=16, height=12).get_batch([0]).shape == (1, 12, 16, 3)
    (tmp_path / "img_00006.png").write_bytes(b"broken")
    with pytest.raises(VideoDecodeError, match="cannot read frame image"):
        VideoReader(tmp_path).get_batch([5])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoDecodeError, match="finds no frames"):
        VideoReader(empty)


@needs_videos
def test_sampler_errors_are_not_decode_errors():
    def broken(num_frames, fps):
        raise KeyError("sampler bug")

    with pytest.raises(KeyError, match="sampler bug"):
        read_clip(VIDEOS / "short_32_frames.mp4", broken)
    with pytest.raises(IndexError):
        read_clip(VIDEOS / "short_32_frames.mp4", [40])


@needs_videos
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["mmaction2_test_xvid.avi", "rotation_90.mov"])
def test_streamed_frames_equal_random_access(name, backend):
    """iter_frames (what --timeline decodes long videos with) gives every frame, in order,
    as get_batch does; a corrupt file raises the usual error, naming it."""
    reader = VideoReader(VIDEOS / name, backend)
    streamed = np.stack(list(reader.iter_frames(chunk=7)))
    assert streamed.shape[0] == GOOD[name][0]
    np.testing.assert_array_equal(streamed, reader.get_batch(range(reader.num_frames)))
    with pytest.raises(VideoDecodeError, match="corrupted.mp4"):
        list(VideoReader(VIDEOS / "corrupted.mp4", backend).iter_frames())

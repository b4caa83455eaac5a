"""The embedded synthetic motion dataset."""

import time

import numpy as np
import pytest

from videomae_tf.data.annotations import load_label_map, read_annotations
from videomae_tf.data.decoders import VideoReader, available_backends
from videomae_tf.data.synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset, render_video


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    start = time.monotonic()
    paths = make_synthetic_dataset(root, num_train_per_class=3, num_val_per_class=1, seed=7)
    return paths, time.monotonic() - start


def test_layout_lists_and_labels(dataset):
    paths, seconds = dataset
    assert seconds < 10  # 32 videos; about 0.01 s each
    assert paths["num_classes"] == len(SYNTHETIC_CLASSES) == 8
    assert load_label_map(paths["labels"]) == list(SYNTHETIC_CLASSES)
    train = read_annotations(paths["train"], "videomae", root=paths["root"])
    val = read_annotations(paths["val"], "videomae", root=paths["root"])
    assert len(train) == 24 and len(val) == 8
    assert sorted(r.label for r in train) == sorted(list(range(8)) * 3)
    assert not {r.path for r in train} & {r.path for r in val}
    first = paths["train"].read_text().splitlines()[0]
    assert first.startswith("videos/train/") and first.endswith(".avi " + first.split()[-1])


def test_every_backend_reads_the_same_frames(dataset):
    paths, _ = dataset
    record = read_annotations(paths["val"], root=paths["root"])[0]
    frames = {}
    for backend in available_backends():
        reader = VideoReader(record.path, backend)
        assert (reader.num_frames, reader.fps) == (32, 16.0)
        frames[backend] = reader.get_batch([31, 0, 15])
        assert frames[backend].shape == (3, 64, 64, 3)
    reference = next(iter(frames.values()))
    for backend, batch in frames.items():
        assert np.array_equal(batch, reference), backend  # MJPEG is intra-only: exact


def test_reproducible_from_seed(dataset, tmp_path):
    paths, _ = dataset
    again = make_synthetic_dataset(tmp_path / "again", 3, 1, seed=7)
    assert again["train"].read_text() == paths["train"].read_text()
    one = read_annotations(paths["val"], root=paths["root"])[0].path
    two = read_annotations(again["val"], root=again["root"])[0].path
    assert np.array_equal(VideoReader(one).get_batch(range(32)), VideoReader(two).get_batch(range(32)))
    other = make_synthetic_dataset(tmp_path / "other", 3, 1, seed=8)
    three = read_annotations(other["val"], root=other["root"])[0].path
    assert not np.array_equal(VideoReader(three).get_batch([0]), VideoReader(one).get_batch([0]))


def test_second_call_reuses_and_larger_extends(tmp_path):
    make_synthetic_dataset(tmp_path, 1, 1, seed=3)
    stamp = (tmp_path / "train.txt").stat().st_mtime_ns
    start = time.monotonic()
    make_synthetic_dataset(tmp_path, 1, 1, seed=3)
    assert time.monotonic() - start < 0.5
    assert (tmp_path / "train.txt").stat().st_mtime_ns == stamp
    video = tmp_path / "videos/train/moving_up_0000.avi"
    before = VideoReader(video).get_batch(range(32))
    make_synthetic_dataset(tmp_path, 2, 1, seed=3)  # new counts: regenerated, video 0 kept
    assert (tmp_path / "videos/train/moving_up_0001.avi").is_file()
    assert np.array_equal(VideoReader(video).get_batch(range(32)), before)


def _shape_stats(video):
    """Per frame: centroid (x, y) and area of the pixels far from the background colour."""
    background = np.median(video[0].reshape(-1, 3), axis=0)
    far = np.abs(video.astype(int) - background).sum(-1) > 60
    ys, xs = np.mgrid[:video.shape[1], :video.shape[2]]
    area = far.sum((1, 2))
    return (far * xs).sum((1, 2)) / area, (far * ys).sum((1, 2)) / area, area


@pytest.mark.parametrize("seed", range(6))
def test_classes_are_decided_by_motion(seed):
    rng = np.random.default_rng(seed)
    for label in range(8):
        x, y, area = _shape_stats(render_video(label, rng))
        dx, dy, growth = x[-1] - x[0], y[-1] - y[0], area[-1] / area[0]
        expected = {0: dx < -8, 1: dx > 8, 2: dy < -8, 3: dy > 8,
                    4: abs(growth - 1) < 0.25, 5: abs(growth - 1) < 0.25,
                    6: growth > 2.5, 7: growth < 0.4}[label]
        assert expected, (SYNTHETIC_CLASSES[label], dx, dy, growth)


@pytest.mark.parametrize("seed", range(3))
def test_fixed_polarity_bright_shape_on_dark_background(seed):
    """Format 2: the shape is always brighter than the background (every channel), so
    the sign of a frame difference tells where the shape went."""
    rng = np.random.default_rng(seed)
    for label in range(8):
        video = render_video(label, rng).astype(int)
        background = np.median(video[0].reshape(-1, 3), axis=0)
        assert background.max() < 70, background
        shape = video[0][np.abs(video[0] - background).sum(-1) > 60]
        assert len(shape) > 40 and (np.median(shape, axis=0) > background + 100).all()


def test_rotation_direction():
    """Clockwise on screen (image y points down): the long axis angle increases."""
    for label, sign in ((4, 1), (5, -1)):
        video = render_video(label, np.random.default_rng(0))
        background = np.median(video[0].reshape(-1, 3), axis=0)
        angles = []
        for frame in video[[0, 4]]:
            far = np.abs(frame.astype(int) - background).sum(-1) > 60
            ys, xs = np.nonzero(far)
            cov = np.cov(np.stack([xs, ys]))
            vals, vecs = np.linalg.eigh(cov)
            vx, vy = vecs[:, -1]
            angles.append(np.degrees(np.arctan2(vy, vx)) % 180)
        turn = (angles[1] - angles[0] + 90) % 180 - 90
        assert sign * turn > 5, (label, angles)


def test_bad_class_is_rejected():
    with pytest.raises(ValueError, match="synthetic class must be in 0..7"):
        render_video(8, np.random.default_rng(0))

"""tf.data pipelines on the synthetic dataset and the shared real videos (small sizes)."""

import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from videomae_tf.data import decoders
from videomae_tf.data.annotations import VideoRecord, read_annotations
from videomae_tf.data.pipeline import (DecodeErrorLog, finetune_dataset, pretrain_dataset,
                                       multiview_dataset, validation_dataset)

VIDEOS = Path(__file__).resolve().parents[2] / "../shared/data/videos"
needs_videos = pytest.mark.skipif(not VIDEOS.is_dir(),
                                  reason=f"shared test videos not found at {VIDEOS}")
SMALL = dict(num_frames=8, sampling_rate=2, crop_size=32)


@pytest.fixture(scope="module")
def synthetic(synthetic_videos):
    paths = synthetic_videos  # the session's small dataset (tests/conftest.py)
    return read_annotations(paths["train"], root=paths["root"]), paths


def _real(*names, label=0):
    return [VideoRecord(str(VIDEOS / n), label + i) for i, n in enumerate(names)]


def _collect(ds):
    return [tuple(np.asarray(t) for t in (e if isinstance(e, tuple) else e.values()))
            for e in ds.as_numpy_iterator()]


def test_finetune_shapes_labels_and_views(synthetic):
    records, _ = synthetic
    ds = finetune_dataset(records, num_sample=2, batch_size=4, seed=1, **SMALL)
    clip_spec, label_spec = ds.element_spec
    assert clip_spec.shape == (4, 8, 32, 32, 3) and clip_spec.dtype == tf.float32
    assert label_spec.shape == (4,) and label_spec.dtype == tf.int32
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 8  # 16 videos x 2 views / 4
    labels = np.concatenate([y for _, y in batches])
    assert sorted(labels.tolist()) == sorted([r.label for r in records] * 2)
    assert (labels[0::2] == labels[1::2]).all()  # the views of a video are adjacent
    clips = np.concatenate([x for x, _ in batches])
    assert np.isfinite(clips).all() and -3 < clips.mean() < 3 and clips.std() > 0.3
    assert not np.allclose(clips[0], clips[1])  # two different augmentations


def test_finetune_is_deterministic_under_a_seed(synthetic):
    records, _ = synthetic
    make = lambda seed, parallel: finetune_dataset(  # noqa: E731
        records[:6], seed=seed, num_parallel_calls=parallel, **SMALL)
    first = _collect(make(5, 2))
    again = _collect(make(5, 1))
    other = _collect(make(6, 2))
    assert all(np.array_equal(a, b) for x, y in zip(first, again) for a, b in zip(x, y))
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(first, other))
    epochs = make(5, 2)  # a new epoch reshuffles and redraws, reproducibly
    one, two = _collect(epochs), _collect(epochs)
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(one, two))


def test_validation_one_centred_clip_per_video(synthetic):
    records, _ = synthetic
    ds = validation_dataset(records, batch_size=5, short_side=40, **SMALL)
    assert ds.element_spec[0].shape.as_list() == [None, 8, 32, 32, 3]
    first, second = _collect(ds), _collect(ds)
    assert sum(len(y) for _, y in first) == len(records)
    assert np.concatenate([y for _, y in first]).tolist() == [r.label for r in records]
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, second))


def test_pretraining_masks_and_indices(synthetic):
    records, _ = synthetic
    ds = pretrain_dataset(records, batch_size=2, num_sample=2, seed=0, mask_ratio=0.75,
                          patch_size=16, tubelet_size=2, **SMALL)
    spec = ds.element_spec
    # grid 4 x 2 x 2 = 16 tokens; tube 0.75 hides int(0.75 * 4) = 3 of 4 per slot
    assert spec["pixel_values"].shape == (2, 8, 32, 32, 3)
    assert spec["visible_index"].shape == (2, 4) and spec["reconstruct_index"].shape == (2, 12)
    batch = next(iter(ds))
    for visible, hidden in zip(batch["visible_index"].numpy(), batch["reconstruct_index"].numpy()):
        assert sorted(visible.tolist() + hidden.tolist()) == list(range(16))
        assert (np.diff(visible) > 0).all() and (np.diff(hidden) > 0).all()
        assert len({v % 4 for v in visible}) == 1  # a tube: the same spatial patch each slot
    v2 = pretrain_dataset(records, batch_size=2, decoder_mask_type="running_cell", seed=0,
                          mask_ratio=0.75, **SMALL)
    assert v2.element_spec["reconstruct_index"].shape == (2, 8)  # half the tokens
    assert next(iter(v2))["reconstruct_index"].shape == (2, 8)


def test_mixup_gives_soft_labels(synthetic):
    records, _ = synthetic
    ds = finetune_dataset(records, batch_size=4, seed=0, mixup={"num_classes": 8}, **SMALL)
    clips, labels = next(iter(ds))
    assert clips.shape == (4, 8, 32, 32, 3) and labels.shape == (4, 8)
    np.testing.assert_allclose(labels.numpy().sum(1), 1.0, rtol=1e-5)


def test_sharding_splits_the_file_list(synthetic):
    records, _ = synthetic
    seen = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id)
        ds = multiview_dataset(records, num_clips=1, num_crops=1, short_side=32,
                               input_context=context, **SMALL)
        seen.append({int(e["video_id"]) for e in ds.as_numpy_iterator()})
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(len(records)))


def test_annotation_file_as_input(synthetic):
    _, paths = synthetic
    ds = validation_dataset(paths["val"], root=paths["root"], short_side=32, **SMALL)
    assert len(list(ds)) == 8


@needs_videos
def test_corrupted_video_is_skipped_and_counted():
    records = _real("short_32_frames.mp4", "corrupted.mp4", "mmaction2_test_xvid.avi")
    log = DecodeErrorLog()
    ds = finetune_dataset(records, num_sample=2, error_log=log, seed=0, rand_aug=None,
                          num_frames=16, sampling_rate=4, crop_size=32, decode_short_side=64)
    labels = [int(y) for _, y in ds.as_numpy_iterator()]
    assert sorted(labels) == [0, 0, 2, 2]
    assert list(log.failures) == [str(VIDEOS / "corrupted.mp4")] and log.count == 1
    list(ds)  # a second epoch fails again: counted, not logged twice
    assert log.count == 2 and len(log) == 1


@needs_videos
def test_strict_mode_names_the_file():
    records = _real("corrupted.mp4")
    ds = validation_dataset(records, on_error="raise", crop_size=32, short_side=32)
    with pytest.raises(tf.errors.OpError, match="cannot decode video .*corrupted.mp4"):
        list(ds)


def test_hanging_decode_is_skipped(synthetic, monkeypatch):
    records, _ = synthetic
    real = decoders._IMPLEMENTATIONS["opencv"]

    class HangsOnSome(real):
        def get_batch(self, indices):
            if "moving_up_0001" in self._path:
                time.sleep(20)
            return super().get_batch(indices)

    monkeypatch.setitem(decoders._IMPLEMENTATIONS, "opencv", HangsOnSome)
    hanging = sum("moving_up_0001" in r.path for r in records)
    log = DecodeErrorLog()
    start = time.monotonic()
    ds = validation_dataset(records, backend="opencv", timeout=1.0, error_log=log,
                            short_side=32, **SMALL)
    assert len(list(ds)) == len(records) - hanging
    assert time.monotonic() - start < 10
    assert len(log) == hanging and all("did not finish" in r for r in log.failures.values())


@needs_videos
def test_multiview_views_are_tagged():
    records = _real("arm_wrestling_k400.mp4", "short_32_frames.mp4", label=6)
    ds = multiview_dataset(records, num_clips=2, num_crops=3, batch_size=4, num_frames=8,
                           sampling_rate=4, short_side=48, crop_size=48)
    elements = [{k: v for k, v in e.items()} for e in ds.unbatch().as_numpy_iterator()]
    assert len(elements) == 12
    assert [e["video_id"] for e in elements] == [0] * 6 + [1] * 6
    assert [e["view"] for e in elements] == list(range(6)) * 2
    assert [e["label"] for e in elements] == [6] * 6 + [7] * 6
    assert elements[0]["video"].shape == (8, 48, 48, 3)
    # 340x256 -> 63x48 after the short-side resize: the three crops sit at x = 0, 7, 15
    assert not np.allclose(elements[0]["video"], elements[2]["video"])


@needs_videos
def test_portrait_and_rotated_videos_through_validation():
    records = _real("ma52_nodding_0019_02_0078.mp4", "rotation_90.mov", "unordered_timestamps.mov")
    log = DecodeErrorLog()
    ds = validation_dataset(records, num_frames=4, sampling_rate=1, short_side=32, crop_size=32,
                            decode_short_side=64, error_log=log)
    clips = [x for x, _ in ds.as_numpy_iterator()]
    assert len(clips) == 3 and not log.failures
    assert all(c.shape == (4, 32, 32, 3) for c in clips)


def test_bad_arguments(synthetic):
    records, _ = synthetic
    with pytest.raises(ValueError, match="on_error"):
        validation_dataset(records, on_error="ignore")
    with pytest.raises(ValueError, match="no label"):
        finetune_dataset([VideoRecord("x.mp4")])
    with pytest.raises(ValueError, match="unknown sampler"):
        finetune_dataset(records, sampler="tsn")
    with pytest.raises(ValueError, match="mixup works on batches"):
        finetune_dataset(records, mixup={"num_classes": 8})


def test_rawframe_folders_from_a_rawframes_list(tmp_path, synthetic):
    import cv2

    records, _ = synthetic
    frames = decoders.VideoReader(records[0].path).get_batch(range(32))
    folder = tmp_path / "frames" / "clip"
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"img_{i + 1:05d}.jpg"), frame[:, :, ::-1])
    (tmp_path / "list.txt").write_text(f"frames/clip 32 {records[0].label}\n")
    ds = validation_dataset(tmp_path / "list.txt", root=tmp_path, short_side=32, **SMALL)
    ((clip, label),) = list(ds.as_numpy_iterator())
    assert clip.shape == (8, 32, 32, 3) and label == records[0].label


def test_package_exports():
    import videomae_tf.data as data

    assert data.finetune_dataset is finetune_dataset and data.DecodeErrorLog is DecodeErrorLog
    assert {"VideoReader", "read_annotations", "make_synthetic_dataset",
            "multiview_dataset"} <= set(data.__all__)
    with pytest.raises(AttributeError):
        data.not_a_name


@needs_videos
def test_multiview_matches_the_official_test_geometry():
    from videomae_tf.data import transforms

    path = VIDEOS / "arm_wrestling_k400.mp4"
    ds = multiview_dataset([VideoRecord(str(path), 0)], num_clips=3, num_crops=3,
                           num_frames=8, sampling_rate=4, short_side=48, crop_size=48)
    views = [e["video"] for e in ds.as_numpy_iterator()]
    reader = decoders.VideoReader(path)
    expected = transforms.view_geometries(reader.num_frames, 256, 340, num_clips=3, num_crops=3,
                                     clip_len=8, frame_sample_rate=4, short_side=48,
                                     crop_size=48)
    assert len(views) == len(expected) == 9
    for got, view in zip(views, expected):
        want = transforms.normalize(transforms.apply_view(reader.get_batch(view.frame_indices), view))
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("sampler", ["dense", "dense_center", "segment", "uniform",
                                     "uniform_test", "pretrain"])
def test_named_samplers_run(synthetic, sampler):
    records, _ = synthetic
    ds = validation_dataset(records[:2], sampler=sampler, short_side=32, **SMALL)
    assert [x.shape for x, _ in ds.as_numpy_iterator()] == [(8, 32, 32, 3)] * 2

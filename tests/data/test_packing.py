"""Packed shards (issue 25, first part): `pack` writes every video of a list as JPEG frames
in TFRecord shards with an index, reports bad videos, resumes, refuses a folder that is
not its own, works on a gfile URL (ram://); the validation view read in the graph from
the shards equals the Python pipeline's within JPEG's error, and its window indices, made
by TensorFlow ops, equal the numpy sampler's exactly."""

import json

import numpy as np
import pytest

from videomae_tf.cli import main
from videomae_tf.data import sampling
from videomae_tf.data.annotations import VideoRecord, write_annotations
from videomae_tf.data.packing import (dense_center_indices_tf, pack_videos, packed_index,
                                      packed_validation_dataset)
from videomae_tf.errors import InputError

VIDEOS = ["short_32_frames.mp4", "mmaction2_test_xvid.avi", "corrupted.mp4",
          "ma52_nodding_0019_02_0078.mp4"]


@pytest.fixture(scope="module")
def records(shared_data):
    return [VideoRecord(str(shared_data / "videos" / name), label)
            for label, name in enumerate(VIDEOS)]


@pytest.fixture(scope="module")
def packed(records, tmp_path_factory):
    folder = tmp_path_factory.mktemp("packed") / "out"
    report = pack_videos(records, str(folder), shards=2, short_side=0, progress=False)
    return folder, report


def test_window_indices_made_in_the_graph_equal_the_numpy_sampler():
    for clip_len, rate in ((16, 4), (8, 4), (16, 2)):
        for n in [1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 163, 301]:
            expected = sampling.dense_val_indices(n, None, clip_len, rate)
            np.testing.assert_array_equal(
                dense_center_indices_tf(n, clip_len, rate).numpy(), expected, err_msg=str(n))


def test_pack_writes_shards_an_index_and_the_failures(packed, records):
    folder, report = packed
    assert report["written"] == ["shard-00000-of-00002.tfrecord", "shard-00001-of-00002.tfrecord"]
    assert report["videos"] == 3 and list(report["failed"]) == [records[2].path]
    index = packed_index(str(folder))
    assert index["num_videos"] == 3 and [s["count"] for s in index["shards"]] == [2, 1]
    assert (folder / "failed_videos.csv").read_text().splitlines()[1].startswith(records[2].path)
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]
    again = pack_videos(records, str(folder), shards=2, short_side=0, progress=False)
    assert again["written"] == [] and len(again["skipped"]) == 2  # resumed: nothing redone


def test_packed_validation_views_equal_the_python_pipeline(packed, records):
    from videomae_tf.data.pipeline import validation_dataset

    folder, _ = packed
    options = dict(num_frames=8, sampling_rate=4, short_side=64, crop_size=64)
    ours = list(packed_validation_dataset(str(folder), **options).as_numpy_iterator())
    good = [r for r in records if "corrupted" not in r.path]
    theirs = list(validation_dataset(good, **options).as_numpy_iterator())
    assert [int(label) for _, label in ours] == [r.label for r in good]
    for (clip, _), (expected, _) in zip(ours, theirs):
        error = np.abs(clip - expected)  # normalised units: 1/255 is 0.017
        assert error.mean() < 0.05 and np.percentile(error, 99) < 0.2, (error.mean(), error.max())


def test_an_interrupted_pack_resumes_at_the_missing_shard(packed, records, tmp_path):
    import shutil

    folder, _ = packed
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "shard-00001-of-00002.tfrecord.json").unlink()  # as if stopped in shard 1
    (copy / "index.json").unlink()
    report = pack_videos(records, str(copy), shards=2, short_side=0, progress=False)
    assert report["written"] == ["shard-00001-of-00002.tfrecord"]
    assert packed_index(str(copy))["num_videos"] == 3


def test_bad_packs_and_folders_are_refused_in_one_line(packed, records, tmp_path):
    folder, _ = packed
    with pytest.raises(InputError, match="holds a pack made otherwise \\(short_side differ\\)"):
        pack_videos(records, str(folder), shards=2, short_side=160, progress=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="is not empty and holds no pack"):
        pack_videos(records, str(mine), progress=False)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    broken = tmp_path / "broken"
    broken.mkdir()
    index = json.loads((folder / "index.json").read_text())
    (broken / "index.json").write_text(json.dumps(index))
    for name in ("shard-00000-of-00002.tfrecord", "shard-00000-of-00002.tfrecord.json"):
        (broken / name).write_bytes((folder / name).read_bytes())
    with pytest.raises(InputError, match="names shard-00001-of-00002.tfrecord, which is not"):
        packed_index(str(broken))
    index["shards"] = index["shards"][:1]
    index["shards"][0]["count"] = 5
    (broken / "index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="says shard-00000-of-00002.tfrecord holds 5 videos; "
                                         "the shard holds 2"):
        packed_index(str(broken))
    for shards in (9, 0):  # 0 is not "the default"
        with pytest.raises(InputError, match="shards must be an integer from 1 to the 4 videos"):
            pack_videos(records, str(tmp_path / "new"), shards=shards, progress=False)


def test_pack_writes_to_a_gfile_url(records):
    report = pack_videos(records[:2], "ram://videomae_tf_test_pack", shards=1, short_side=64,
                         progress=False)
    index = packed_index("ram://videomae_tf_test_pack")
    assert report["videos"] == 2 and index["files"] == [
        "ram://videomae_tf_test_pack/shard-00000-of-00001.tfrecord"]
    clips = list(packed_validation_dataset(index, num_frames=4, short_side=64,
                                           crop_size=64).as_numpy_iterator())
    assert len(clips) == 2 and clips[0][0].shape == (4, 64, 64, 3)


def test_cli_pack(records, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    write_annotations(records[:2], listing, root=tmp_path)
    assert main(["pack", str(listing), "--root", str(tmp_path), "--output",
                 str(tmp_path / "out"), "--short-side", "64"]) == 0
    assert "pack: 2 videos in 1 shards" in capsys.readouterr().out
    assert main(["pack", str(listing), "--output", str(tmp_path / "x"), "--format", "gif"]) == 2


def test_train_windows_made_in_the_graph_are_the_official_samplers():
    import tensorflow as tf

    from videomae_tf.data.packing import dense_train_indices_tf

    for n in (10, 64, 65, 100, 301):
        ends = set()
        for k in range(40):
            indices = dense_train_indices_tf(n, tf.constant([k, 7], tf.int64)).numpy()
            if n <= 64:  # a short video has one window
                np.testing.assert_array_equal(indices, sampling.dense_clip_indices(n, None))
                continue
            end = int(indices[0]) + 64  # the window [end - 64, end) starts at its first index
            assert 64 <= end < n
            np.testing.assert_array_equal(indices, sampling.dense_clip_indices(n, end))
            ends.add(end)
        assert n <= 64 or len(ends) >= min(n - 64, 10)  # the end is drawn, not fixed


def test_random_resized_crop_boxes_follow_torchvisions_rule():
    import tensorflow as tf

    from videomae_tf.data.packing import random_resized_crop_box_tf
    from videomae_tf.data.transforms.geometry import random_resized_crop_box

    for k in range(50):
        top, left, h, w = random_resized_crop_box_tf(240, 320, tf.constant([k, 1], tf.int64)).numpy()
        assert 0 <= top <= 240 - h and 0 <= left <= 320 - w and h > 0 and w > 0
        assert 0.08 * 0.9 <= h * w / (240 * 320) <= 1.0
        assert 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1
    # nothing fits (a whole-frame square of a wide frame): both take the same fallback
    rng = np.random.default_rng(0)
    for height, width in ((240, 320), (320, 240), (100, 400)):
        expected = random_resized_crop_box(height, width, rng, (1.0, 1.0), (1.0, 1.0))
        box = random_resized_crop_box_tf(height, width, tf.constant([3, 4], tf.int64),
                                         (1.0, 1.0), (1.0, 1.0)).numpy()
        assert tuple(int(v) for v in box) == expected


def test_a_train_view_in_the_graph_equals_the_python_transform(packed):
    import tensorflow as tf

    from videomae_tf.data import transforms
    from videomae_tf.data.packing import _decode, _parse, train_view_tf

    folder, _ = packed
    serialized = next(iter(tf.data.TFRecordDataset(packed_index(str(folder))["files"])))
    example = _parse(serialized)
    frames = _decode(example["frames"], tf.range(0, 16, 2, dtype=tf.int64)).numpy()
    height, width = frames.shape[1:3]
    for k, flip in enumerate((False, True)):
        box = transforms.geometry.random_resized_crop_box(height, width,
                                                          np.random.default_rng(k))
        view = train_view_tf(frames, tf.constant(box, tf.int64), tf.constant(flip), 64).numpy()
        expected = transforms.resize(transforms.geometry.crop(frames, box), 64, 64)
        expected = transforms.normalize(expected[:, :, ::-1] if flip else expected)
        error = np.abs(view - expected)  # the Python path rounds the resized frames to uint8
        assert error.max() < 0.03 and error.mean() < 0.01, (error.mean(), error.max())


def test_packed_finetune_views_are_reproducible_and_shaped(packed):
    from videomae_tf.data.packing import packed_finetune_dataset

    folder, _ = packed

    def views(seed):
        ds = packed_finetune_dataset(str(folder), num_frames=4, crop_size=32, num_sample=2,
                                     seed=seed)
        return list(ds.as_numpy_iterator())

    first, again, other = views(1), views(1), views(2)
    assert len(first) == 6 and first[0][0].shape == (4, 32, 32, 3)
    assert sorted(int(label) for _, label in first) == [0, 0, 1, 1, 3, 3]
    for (a, _), (b, _) in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in zip(first, other))
    assert not np.array_equal(first[0][0], first[1][0])  # two views of a video differ


def test_finetune_trains_from_packs(tmp_path, capsys):
    """The synthetic recipe from packed train and validation data, through the CLI."""
    from videomae_tf.data import make_synthetic_dataset

    paths = make_synthetic_dataset(tmp_path / "synthetic", num_train_per_class=4,
                                   num_val_per_class=1)
    for split in ("train", "val"):
        pack_videos(str(paths[split]), str(tmp_path / f"{split}_pack"), root=paths["root"],
                    short_side=0, progress=False)
    argv = ["finetune", "--recipe", "synthetic", "--train-list",
            str(tmp_path / "train_pack" / "index.json"), "--val-list",
            str(tmp_path / "val_pack"), "--output", str(tmp_path / "run"), "--epochs", "2",
            "--set", "progress=false"]
    assert main(argv) == 0, capsys.readouterr().err
    rows = (tmp_path / "run" / "logs" / "log.csv").read_text().splitlines()
    assert len(rows) == 3 and "val_top1" in rows[0]  # two epochs, validated from the pack
    assert (tmp_path / "run" / "final.weights.h5").is_file()
    refused = argv[:-2] + ["--output", str(tmp_path / "run2"), "--set",
                           "data.rand_aug=rand-m7-n4-mstd0.5-inc1"]
    assert main(refused) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert "data.rand_aug='rand-m7-n4-mstd0.5-inc1' is not available on packed data" in first

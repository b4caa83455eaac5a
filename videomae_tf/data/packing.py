"""Packed video shards: a dataset written once as TFRecord files, read in the graph.

``videomae-tf pack LIST --root DIR --output OUT`` (``pack_videos``) writes every video of
an annotation list as one ``tf.train.Example``: its label, path, frame count, fps and
either every frame as a JPEG at ``short_side`` (default 320, the official datasets'
offline resize) or the container's bytes. Shards ``OUT/shard-00003-of-00008.tfrecord``
are written under a temporary name and renamed; each complete shard has a small
``.json`` beside it (its videos and failures), so an interrupted pack resumes at the
first missing shard. ``OUT/index.json``, written last, names the shards, their counts,
the label map, the format and the settings; videos that could not be decoded are in
``OUT/failed_videos.csv``. ``OUT`` may be a local folder or any ``tf.io.gfile`` URL
(``gs://bucket/packed``).

``packed_index`` reads and checks an index (every shard present, the counts its
``.json`` files give); ``packed_validation_dataset`` is the validation view from packed
JPEG shards with no Python in the pipeline: the centred dense window's indices as
TensorFlow ops (``dense_center_indices_tf``, equal to ``sampling.dense_val_indices``),
only those frames decoded, short side resized, centre cropped, normalised.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import os
from typing import Sequence

import numpy as np

from videomae_tf.errors import InputError

__all__ = ["FORMATS", "pack_videos", "packed_index", "packed_validation_dataset",
           "dense_center_indices_tf", "PackReport"]

FORMATS = ("jpeg", "video")
INDEX_FILE, FAILED_FILE, SETTINGS_FILE = "index.json", "failed_videos.csv", "pack_settings.json"
JPEG_QUALITY = 90


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


def shard_name(index: int, count: int) -> str:
    return f"shard-{index:05d}-of-{count:05d}.tfrecord"


class PackReport(dict):
    """What ``pack_videos`` did: ``{"shards", "written", "skipped", "videos", "failed",
    "index"}`` (shards written now, shards already complete, videos packed, failures)."""


def _encode_video(path: str, short_side: int, format: str, backend: str) -> dict:
    """The features of one video (decoded in a worker thread: decoders release the GIL)."""
    import cv2

    from videomae_tf.data import transforms
    from videomae_tf.data.decoders import VideoReader

    reader = VideoReader(path, backend, timeout=None)
    try:
        fps = float(reader.fps or 0.0)
        if format == "video":
            with open(path, "rb") as f:
                return dict(container=f.read(), num_frames=reader.num_frames, fps=fps,
                            height=0, width=0)
        frames = []
        height = width = 0
        for frame in reader.iter_frames():
            if short_side and min(frame.shape[:2]) != short_side:
                frame = transforms.resize_short_side(frame[None], short_side)[0]
            height, width = frame.shape[:2]
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                                    [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise RuntimeError(f"JPEG encoding of a frame of {path} failed")
            frames.append(jpeg.tobytes())
        return dict(frames=frames, num_frames=len(frames), fps=fps, height=height, width=width)
    finally:
        reader.close()


def _example(record, features: dict) -> bytes:
    import tensorflow as tf

    def ints(*values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    def blobs(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))

    feature = {"video": blobs([os.fspath(record.path).encode()]),
               "label": ints(-1 if record.label is None else int(record.label)),
               "num_frames": ints(features["num_frames"]),
               "fps": tf.train.Feature(float_list=tf.train.FloatList(value=[features["fps"]])),
               "height": ints(features["height"]), "width": ints(features["width"])}
    if "frames" in features:
        feature["frames"] = blobs(features["frames"])
    else:
        feature["container"] = blobs([features["container"]])
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def pack_videos(records, output: str, *, root=None, shards: int | None = None,
                short_side: int = 320, format: str = "jpeg", label_names: Sequence[str] | None = None,
                num_workers: int | None = None, backend: str = "auto",
                progress: bool = True) -> PackReport:
    """Write ``records`` (an annotation list in any format ``read_annotations`` reads, or
    VideoRecords) as TFRecord shards under ``output``; see the module doc. ``shards``
    defaults to one per 100 videos. A rerun with the same list and settings writes only
    the shards that are missing; other settings over an existing pack are refused."""
    import tensorflow as tf

    from videomae_tf.data.decoders import VideoDecodeError
    from videomae_tf.data.pipeline import _as_records
    from videomae_tf.evaluation.progress import progress_bar

    if format not in FORMATS:
        raise InputError(f"pack format must be one of {', '.join(FORMATS)}, got {format!r}")
    if isinstance(short_side, bool) or not isinstance(short_side, int) or short_side < 0:
        raise InputError(f"short side must be an integer >= 0 (0: keep the size), got "
                         f"{short_side!r}")
    records = _as_records(records, root)
    if not records:
        raise InputError("no videos to pack")
    count = shards or max(1, -(-len(records) // 100))
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(records):
        raise InputError(f"shards must be an integer from 1 to the {len(records)} videos, "
                         f"got {shards!r}")
    gfile = _gfile()
    output = os.fspath(output).rstrip("/")
    settings = {"format": format, "short_side": short_side, "shards": count,
                "videos": [os.fspath(r.path) for r in records],
                "labels": [r.label for r in records]}
    _claim(output, settings, gfile)
    report = PackReport(shards=count, written=[], skipped=[], videos=0, failed={},
                        index=_join(output, INDEX_FILE))
    bounds = np.linspace(0, len(records), count + 1).astype(int)
    workers = num_workers or os.cpu_count() or 1
    with progress_bar(len(records), "pack", unit="video", enabled=progress) as bar, \
            concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for shard in range(count):
            name = shard_name(shard, count)
            part = records[bounds[shard]:bounds[shard + 1]]
            if gfile.exists(_join(output, name + ".json")):
                report["skipped"].append(name)
                bar.update(len(part))
                continue
            jobs = [pool.submit(_encode_video, r.path, short_side, format, backend) for r in part]
            summary = {"videos": [], "failed": {}}
            partial = _join(output, f".{name}.partial")
            with tf.io.TFRecordWriter(partial) as writer:
                for record, job in zip(part, jobs):
                    try:
                        writer.write(_example(record, job.result()))
                        summary["videos"].append(os.fspath(record.path))
                    except (VideoDecodeError, RuntimeError) as e:  # the video's fault
                        summary["failed"][os.fspath(record.path)] = _reason(e)
                    bar.update(1)
            gfile.rename(partial, _join(output, name), overwrite=True)
            _write(gfile, _join(output, name + ".json"), json.dumps(summary))
            report["written"].append(name)
    index = _index(output, count, settings, label_names, gfile)
    report["videos"] = sum(s["count"] for s in index["shards"])
    report["failed"] = index["failed"]
    return report


def _reason(error: Exception) -> str:
    return getattr(error, "reason", None) or f"{type(error).__name__}: {error}"


def _write(gfile, path: str, text: str) -> None:
    """``text`` to ``path`` through a temporary name and a rename (gfile: also gs://)."""
    partial = path.rsplit("/", 1)[0] + "/." + path.rsplit("/", 1)[-1] + ".partial"
    with gfile.GFile(partial, "w") as f:
        f.write(text)
    gfile.rename(partial, path, overwrite=True)


def _claim(output: str, settings: dict, gfile) -> None:
    """Make ``output`` this pack's: new, empty, or an earlier pack with the same settings."""
    path = _join(output, SETTINGS_FILE)
    if gfile.exists(path):
        with gfile.GFile(path) as f:
            stored = json.load(f)
        if stored != settings:
            differ = sorted(k for k in settings if stored.get(k) != settings[k])
            raise InputError(f"{output} holds a pack made otherwise ({', '.join(differ)} "
                             "differ): choose a new --output, or the same list and settings "
                             "to resume")
        return
    if gfile.exists(output) and gfile.listdir(output):
        raise InputError(f"{output} is not empty and holds no pack: choose a new --output "
                         "(nothing was written)")
    gfile.makedirs(output)
    _write(gfile, path, json.dumps(settings))


def _index(output: str, count: int, settings: dict, label_names, gfile) -> dict:
    """index.json and failed_videos.csv from the shards' own summaries."""
    shards, failed = [], {}
    for shard in range(count):
        name = shard_name(shard, count)
        with gfile.GFile(_join(output, name + ".json")) as f:
            summary = json.load(f)
        shards.append({"file": name, "count": len(summary["videos"])})
        failed.update(summary["failed"])
    index = {"format": settings["format"], "short_side": settings["short_side"],
             "shards": shards, "num_videos": sum(s["count"] for s in shards),
             "label_names": list(label_names) if label_names is not None else None,
             "failed": failed}
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["video", "reason"])
    writer.writerows(sorted(failed.items()))
    _write(gfile, _join(output, FAILED_FILE), table.getvalue())
    _write(gfile, _join(output, INDEX_FILE), json.dumps(index, indent=1))
    return index


# ------------------------------------------------------------------------------ reading

def packed_index(path: str) -> dict:
    """The index of a pack (``OUT`` or ``OUT/index.json``) with ``"files"``: the shards'
    full paths; an InputError in one line when it is not one or does not match its shards."""
    gfile = _gfile()
    path = os.fspath(path).rstrip("/")
    folder, file = (path.rsplit("/", 1) if path.endswith(".json") else (path, INDEX_FILE))
    where = _join(folder, file)
    if not gfile.exists(where):
        raise InputError(f"{where} does not exist: not a pack written by `videomae-tf pack`")
    try:
        with gfile.GFile(where) as f:
            index = json.load(f)
        shards = [(s["file"], int(s["count"])) for s in index["shards"]]
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{where} is not a pack index ({type(e).__name__}: {e})") from None
    for name, count in shards:
        summary = _join(folder, name + ".json")
        if not gfile.exists(_join(folder, name)) or not gfile.exists(summary):
            raise InputError(f"{where} names {name}, which is not there (or not complete)")
        with gfile.GFile(summary) as f:
            actual = len(json.load(f)["videos"])
        if actual != count:
            raise InputError(f"{where} says {name} holds {count} videos; the shard holds "
                             f"{actual}: the index does not match its shards")
    return dict(index, files=[_join(folder, name) for name, _ in shards])


def dense_center_indices_tf(video_len, clip_len: int = 16, frame_sample_rate: int = 4):
    """``sampling.dense_val_indices(n, None, ...)`` as TensorFlow ops (int64 (clip_len,)):
    the centred window of a long video, the padded ``linspace`` of a short one."""
    import tensorflow as tf

    n = tf.cast(video_len, tf.int64)
    converted = tf.constant(clip_len * frame_sample_rate, tf.int64)

    def short():
        count = n // frame_sample_rate
        # numpy's linspace(0, n, count): i * n / (count - 1), or [0] for one point
        steps = tf.maximum(count - 1, 1)
        points = tf.cast(tf.range(count), tf.float64) * tf.cast(n, tf.float64) / \
            tf.cast(steps, tf.float64)
        points = tf.where(count == 1, tf.zeros_like(points), points)
        padded = tf.concat([points, tf.fill([clip_len - count], tf.cast(n, tf.float64))], 0)
        return tf.cast(tf.clip_by_value(padded, 0.0, tf.cast(n - 1, tf.float64)), tf.int64)

    def long():
        end = (n + converted) // 2
        start = end - converted
        span = tf.cast(end - start, tf.float64)
        points = tf.cast(start, tf.float64) + tf.cast(tf.range(clip_len), tf.float64) * \
            span / float(clip_len - 1)
        return tf.cast(tf.clip_by_value(points, tf.cast(start, tf.float64),
                                        tf.cast(end - 1, tf.float64)), tf.int64)

    return tf.cond(n <= converted, short, long)


def packed_validation_dataset(index, *, num_frames: int = 16, sampling_rate: int = 4,
                              short_side: int = 224, crop_size: int = 224,
                              batch_size: int | None = None):
    """``(clip, label)`` of every packed video, as ``pipeline.validation_dataset`` makes
    them (centred dense window, short side, centre crop, ImageNet normalisation), all in
    the graph: only the window's frames are decoded."""
    import tensorflow as tf

    from videomae_tf.data.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD

    index = index if isinstance(index, dict) else packed_index(index)
    if index["format"] != "jpeg":
        raise InputError(f"packed_validation_dataset reads JPEG packs; this one is "
                         f"{index['format']!r}")
    spec = {"frames": tf.io.VarLenFeature(tf.string), "label": tf.io.FixedLenFeature([], tf.int64),
            "num_frames": tf.io.FixedLenFeature([], tf.int64),
            "height": tf.io.FixedLenFeature([], tf.int64),
            "width": tf.io.FixedLenFeature([], tf.int64)}
    mean = tf.constant(IMAGENET_MEAN, tf.float32)
    std = tf.constant(IMAGENET_STD, tf.float32)

    def view(serialized):
        example = tf.io.parse_single_example(serialized, spec)
        frames = tf.sparse.to_dense(example["frames"], default_value=b"")
        indices = dense_center_indices_tf(example["num_frames"], num_frames, sampling_rate)
        clip = tf.map_fn(lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
                         tf.gather(frames, indices), fn_output_signature=tf.uint8)
        height, width = example["height"], example["width"]
        # the short side to short_side, the other floor(short_side * long / short)
        side = tf.constant(short_side, tf.int64)
        new_h = tf.where(width < height, side * height // width, side)
        new_w = tf.where(width < height, side, side * width // height)
        clip = tf.image.resize(tf.cast(clip, tf.float32), tf.cast(tf.stack([new_h, new_w]), tf.int32),
                               method="bilinear")
        top = tf.cast(tf.round(tf.cast(new_h - crop_size, tf.float64) / 2), tf.int64)
        left = tf.cast(tf.round(tf.cast(new_w - crop_size, tf.float64) / 2), tf.int64)
        clip = clip[:, top:top + crop_size, left:left + crop_size]
        clip = (clip / 255.0 - mean) / std
        clip.set_shape((num_frames, crop_size, crop_size, 3))
        return clip, tf.cast(example["label"], tf.int32)

    ds = tf.data.TFRecordDataset(index["files"]).map(view, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)

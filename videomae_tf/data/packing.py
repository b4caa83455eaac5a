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
``.json`` files give). Read from packed JPEG shards with no Python in the pipeline:
``packed_validation_dataset`` (the centred dense window's indices as TensorFlow ops, equal
to ``sampling.dense_val_indices``; only those frames decoded, short side resized, centre
cropped, normalised) and ``packed_finetune_dataset`` (the dense train window, repeated
augmentation with torchvision's random resized crop and a flip; RandAugment, erasing and
mixup are not in the graph yet).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
from typing import Sequence

import numpy as np

from videomae_tf.data.annotations import VideoRecord
from videomae_tf.errors import InputError
from videomae_tf.files import is_url

__all__ = ["FORMATS", "PackReport", "dense_center_indices_tf", "dense_clip_indices_tf",
           "dense_train_indices_tf", "pack_videos", "packed_finetune_dataset", "packed_index",
           "packed_validation_dataset", "random_resized_crop_box_tf", "train_view_tf"]

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
    count = max(1, -(-len(records) // 100)) if shards is None else shards
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
            summary = {"videos": [], "labels": [], "failed": {}}
            partial = _join(output, f".{name}.partial")
            with tf.io.TFRecordWriter(partial) as writer:
                for record, job in zip(part, jobs):
                    try:
                        writer.write(_example(record, job.result()))
                        summary["videos"].append(os.fspath(record.path))
                        summary["labels"].append(record.label)
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
    from videomae_tf.data.pipeline import failures_csv

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
    _write(gfile, _join(output, FAILED_FILE), failures_csv(dict(sorted(failed.items()))))
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
    records = []
    for name, count in shards:
        summary = _join(folder, name + ".json")
        if not gfile.exists(_join(folder, name)) or not gfile.exists(summary):
            raise InputError(f"{where} names {name}, which is not there (or not complete)")
        with gfile.GFile(summary) as f:
            videos = json.load(f)
        if len(videos["videos"]) != count:
            raise InputError(f"{where} says {name} holds {count} videos; the shard holds "
                             f"{len(videos['videos'])}: the index does not match its shards")
        records += [VideoRecord(path, label)
                    for path, label in zip(videos["videos"], videos.get("labels", []))]
    return dict(index, files=[_join(folder, name) for name, _ in shards], records=records)


def is_pack(path) -> bool:
    """``path`` is a pack: its ``index.json``, or a folder holding one (local or gfile)."""
    if path is None:
        return False
    text = os.fspath(path).rstrip("/")
    exists = _gfile().exists if is_url(text) else os.path.exists
    return exists(text if text.endswith(INDEX_FILE) else _join(text, INDEX_FILE))


def dense_clip_indices_tf(video_len, end, clip_len: int = 16, frame_sample_rate: int = 4):
    """``sampling.dense_clip_indices(n, end, ...)`` as TensorFlow ops (int64 (clip_len,)):
    ``linspace(end - clip_len * rate, end, clip_len)`` clipped, or for a video no longer
    than that window the padded ``linspace(0, n, n // rate)`` (``end`` unused)."""
    import tensorflow as tf

    n = tf.cast(video_len, tf.int64)
    end = tf.cast(end, tf.int64)
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
        start = end - converted
        points = tf.cast(start, tf.float64) + tf.cast(tf.range(clip_len), tf.float64) * \
            tf.cast(converted, tf.float64) / float(clip_len - 1)
        return tf.cast(tf.clip_by_value(points, tf.cast(start, tf.float64),
                                        tf.cast(end - 1, tf.float64)), tf.int64)

    return tf.cond(n <= converted, short, long)


def dense_center_indices_tf(video_len, clip_len: int = 16, frame_sample_rate: int = 4):
    """``sampling.dense_val_indices(n, None, ...)``: the centred window, as TF ops."""
    import tensorflow as tf

    n = tf.cast(video_len, tf.int64)
    return dense_clip_indices_tf(n, (n + clip_len * frame_sample_rate) // 2, clip_len,
                                 frame_sample_rate)


def dense_train_indices_tf(video_len, seed, clip_len: int = 16, frame_sample_rate: int = 4):
    """``sampling.dense_train_indices``: the window's end uniform in [clip_len * rate, n),
    drawn from the stateless ``seed`` (shape (2,))."""
    import tensorflow as tf

    n = tf.cast(video_len, tf.int64)
    converted = clip_len * frame_sample_rate
    end = tf.random.stateless_uniform([], seed, minval=converted,
                                      maxval=tf.maximum(n, converted + 1), dtype=tf.int64)
    return dense_clip_indices_tf(n, end, clip_len, frame_sample_rate)


def random_resized_crop_box_tf(height, width, seed, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                               attempts: int = 10):
    """``transforms.random_resized_crop_box`` (torchvision's ``get_params``) as TF ops:
    ``attempts`` draws of an area in ``scale`` and a log-uniform aspect ratio, the first
    that fits, else the centre fallback clamped to the ratio range. int64 (top, left, h, w)."""
    import math

    import tensorflow as tf

    height, width = tf.cast(height, tf.int64), tf.cast(width, tf.int64)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    area = tf.cast(height * width, tf.float64)
    target = area * tf.random.stateless_uniform([attempts], seeds[0], scale[0], scale[1],
                                                dtype=tf.float64)
    aspect = tf.exp(tf.random.stateless_uniform([attempts], seeds[1], math.log(ratio[0]),
                                                math.log(ratio[1]), dtype=tf.float64))
    w = tf.cast(tf.round(tf.sqrt(target * aspect)), tf.int64)  # round half to even: Python's
    h = tf.cast(tf.round(tf.sqrt(target / aspect)), tf.int64)
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int64)
    in_ratio = tf.cast(width, tf.float64) / tf.cast(height, tf.float64)
    fallback_w = tf.where(in_ratio < min(ratio), width,
                          tf.where(in_ratio > max(ratio),
                                   tf.cast(tf.round(tf.cast(height, tf.float64) * max(ratio)),
                                           tf.int64), width))
    fallback_h = tf.where(in_ratio < min(ratio),
                          tf.cast(tf.round(tf.cast(width, tf.float64) / min(ratio)), tf.int64),
                          height)

    def found():
        box_h, box_w = h[first], w[first]
        offsets = tf.random.stateless_uniform([2], seeds[2], dtype=tf.float64)
        top = tf.cast(offsets[0] * tf.cast(height - box_h + 1, tf.float64), tf.int64)
        left = tf.cast(offsets[1] * tf.cast(width - box_w + 1, tf.float64), tf.int64)
        return tf.stack([top, left, box_h, box_w])

    def fallback():
        return tf.stack([(height - fallback_h) // 2, (width - fallback_w) // 2, fallback_h,
                         fallback_w])

    return tf.cond(tf.reduce_any(fits), found, fallback)


def train_view_tf(frames, box, flip, size: int):
    """uint8 (T, H, W, 3) -> float32 (T, size, size, 3): the crop ``box`` resized (bilinear,
    half-pixel centres, no antialiasing: cv2's INTER_LINEAR), flipped if ``flip``,
    ImageNet-normalised (``transforms.finetune_train_transform`` without RandAugment and
    erasing)."""
    import tensorflow as tf

    top, left, h, w = (box[i] for i in range(4))
    crop = frames[:, top:top + h, left:left + w]
    clip = tf.image.resize(tf.cast(crop, tf.float32), [size, size], method="bilinear")
    clip = tf.cond(flip, lambda: tf.reverse(clip, axis=[2]), lambda: clip)
    return _normalized_tf(clip)


def _normalized_tf(clip):
    """float [0, 255] -> (x / 255 - mean) / std with the ImageNet mean/std, as TF ops."""
    import tensorflow as tf

    from videomae_tf.data.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD

    return (clip / 255.0 - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)


def _parse(serialized):
    import tensorflow as tf

    spec = {"frames": tf.io.VarLenFeature(tf.string), "label": tf.io.FixedLenFeature([], tf.int64),
            "num_frames": tf.io.FixedLenFeature([], tf.int64),
            "height": tf.io.FixedLenFeature([], tf.int64),
            "width": tf.io.FixedLenFeature([], tf.int64)}
    example = tf.io.parse_single_example(serialized, spec)
    example["frames"] = tf.sparse.to_dense(example["frames"], default_value=b"")
    return example


def _decode(frames, indices):
    """Only the frames at ``indices``, decoded: uint8 (len(indices), H, W, 3)."""
    import tensorflow as tf

    return tf.map_fn(lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
                     tf.gather(frames, indices), fn_output_signature=tf.uint8)


def _jpeg_index(index) -> dict:
    index = index if isinstance(index, dict) else packed_index(index)
    if index["format"] != "jpeg":
        raise InputError(f"packed datasets read JPEG packs; this one is {index['format']!r} "
                         "(pack it with --format jpeg)")
    return index


def packed_finetune_dataset(index, *, num_frames: int = 16, sampling_rate: int = 4,
                            crop_size: int = 224, num_sample: int = 2, flip: bool = True,
                            scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), shuffle: bool = True,
                            repeat: bool = False, seed: int | None = None,
                            batch_size: int | None = None, drop_remainder: bool = True,
                            mixup: dict | None = None, input_context=None):
    """Fine-tuning views ``(clip, label)`` from packed JPEG shards, all in the graph: the
    official dense train window (end uniform, as TF ops), only its frames decoded, then
    ``num_sample`` views per video (repeated augmentation), each a random resized crop
    (torchvision's parameters) and a flip with probability 0.5, normalised. RandAugment,
    random erasing are not in this path yet (use ``finetune_dataset`` for them); ``mixup``
    (``transforms.mixup_cutmix_tf`` arguments) is applied per batch, as there; an
    ``input_context`` gives each input pipeline its share of the videos."""
    import tensorflow as tf

    index = _jpeg_index(index)
    files = tf.data.Dataset.from_tensor_slices(index["files"])
    if shuffle:
        files = files.shuffle(len(index["files"]), seed=seed)
    ds = files.interleave(tf.data.TFRecordDataset, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    if input_context is not None:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        ds = ds.shuffle(max(1, min(index["num_videos"], 1024)), seed=seed)
    if repeat:
        ds = ds.repeat()
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def views(serialized, element_seed):
        example = _parse(serialized)
        seed_pairs = tf.random.experimental.stateless_split(element_seed, 1 + 2 * num_sample)
        indices = dense_train_indices_tf(example["num_frames"], seed_pairs[0], num_frames,
                                         sampling_rate)
        frames = _decode(example["frames"], indices)
        out = []
        for k in range(num_sample):
            box = random_resized_crop_box_tf(example["height"], example["width"],
                                             seed_pairs[1 + 2 * k], scale, ratio)
            coin = tf.random.stateless_uniform([], seed_pairs[2 + 2 * k])
            flipped = tf.logical_and(flip, coin < 0.5)
            view = train_view_tf(frames, box, flipped, crop_size)
            view.set_shape((num_frames, crop_size, crop_size, 3))
            out.append(view)
        labels = tf.fill([num_sample], tf.cast(example["label"], tf.int32))
        return tf.stack(out), labels

    ds = tf.data.Dataset.zip(ds, seeds).map(views, num_parallel_calls=tf.data.AUTOTUNE,
                                             deterministic=True).unbatch()
    if mixup:
        from videomae_tf.data.pipeline import with_mixup

        if not batch_size:
            raise InputError("mixup works on batches: give batch_size too")
        return with_mixup(ds.batch(batch_size, drop_remainder=drop_remainder), mixup, seed,
                          deterministic=True)
    if batch_size:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    options = tf.data.Options()
    if input_context is not None:  # already sharded by hand
        options.experimental_distribute.auto_shard_policy = \
            tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def packed_validation_dataset(index, *, num_frames: int = 16, sampling_rate: int = 4,
                              short_side: int = 224, crop_size: int = 224,
                              batch_size: int | None = None):
    """``(clip, label)`` of every packed video, as ``pipeline.validation_dataset`` makes
    them (centred dense window, short side, centre crop, ImageNet normalisation), all in
    the graph: only the window's frames are decoded."""
    import tensorflow as tf

    index = _jpeg_index(index)

    def view(serialized):
        example = _parse(serialized)
        indices = dense_center_indices_tf(example["num_frames"], num_frames, sampling_rate)
        clip = _decode(example["frames"], indices)
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
        clip = _normalized_tf(clip)
        clip.set_shape((num_frames, crop_size, crop_size, 3))
        return clip, tf.cast(example["label"], tf.int32)

    ds = tf.data.TFRecordDataset(index["files"]).map(view, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)

"""tf.data input pipelines: fine-tuning, validation, pretraining and multi-view testing.

All four are thin wrappers around :func:`video_dataset`, which

1. makes a dataset of record indices, shards it *before* decoding when a
   ``tf.distribute.InputContext`` is given, shuffles (seeded) and repeats;
2. pairs every element with a seed from ``tf.data.Dataset.random`` (new draws every
   epoch, reproducible under ``seed``, different per input pipeline);
3. decodes and transforms each video in Python (``tf.numpy_function``) with
   ``num_parallel_calls`` calls in flight -- decord, PyAV, OpenCV and most numpy ops
   release the GIL, so threads scale with cores -- into a *stack of views*
   (``num_sample`` augmented views, or the test views, of one decoded video);
4. unbatches the views, so one bad video simply contributes zero views: with
   ``on_error="skip"`` (default) a :class:`~videomae_tf.data.decoders.VideoDecodeError`
   is logged once per file, counted in a :class:`DecodeErrorLog`, and the pipeline goes
   on; with ``on_error="raise"`` iteration stops with an error naming the file;
5. gives every tensor its static shape (``set_shape``), batches with
   ``drop_remainder`` and prefetches, so XLA-compiled steps see fixed shapes.

Elements: fine-tuning and validation yield ``(clip, label)`` with ``clip`` float32
``(T, S, S, 3)`` normalised with the ImageNet mean/std and ``label`` int32; with
``mixup`` the batched labels become soft float32 ``(B, num_classes)``. Pretraining yields
the dict the pretrainer takes: ``pixel_values``, ``visible_index`` (int32, the tokens the
encoder sees) and ``reconstruct_index`` (int32, the tokens the decoder predicts).
Testing yields dicts ``video``, ``label``, ``video_id`` (the record's position in the
list) and ``view`` (clip-major view index), to aggregate per video.

Caveat (TensorFlow, any Python function in tf.data): an iterator still alive when the
interpreter shuts down -- e.g. ``it = iter(ds)`` at module level of a script -- can hang
the exit, because its in-flight decodes cannot re-acquire the GIL during finalisation.
Iterate inside a function (``model.fit`` does) or ``del`` the iterator before exiting.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from videomae_tf.errors import InputError
from videomae_tf import masking
from videomae_tf.data import sampling, transforms
from videomae_tf.data.annotations import VideoRecord, read_annotations
from videomae_tf.data.decoders import DEFAULT_TIMEOUT, VideoDecodeError, read_clip

__all__ = [
    "DecodeErrorLog",
    "SAMPLERS",
    "finetune_dataset",
    "pretrain_dataset",
    "multiview_dataset",
    "validation_dataset",
    "video_dataset",
]

log = logging.getLogger(__name__)

AUTOTUNE = tf.data.AUTOTUNE


class NoReadableVideoError(ValueError):
    """A repeating pipeline went through its whole list without reading one video."""


class _FailureStreak:
    """Counts decode failures since the last success; past ``limit`` no video of the
    list can be read (a wrong root, all files corrupt) and a repeating pipeline would
    spin for ever, so it raises instead."""

    def __init__(self, limit: int, source: str):
        self.limit, self.source, self.count = limit, source, 0
        self._lock = threading.Lock()

    def success(self) -> None:
        self.count = 0

    def failure(self, error: VideoDecodeError) -> None:
        with self._lock:
            self.count += 1
            if self.count >= self.limit:
                raise NoReadableVideoError(
                    f"no video of {self.source} could be read: {self.count} attempts in a row "
                    f"failed (last: {error}); check the list's paths and the data root")


class DecodeErrorLog:
    """Thread-safe tally of videos that failed to decode; logs each file once.

    ``failures`` maps path -> first reason; ``count`` counts every failed attempt
    (a broken file fails again each epoch).
    """

    def __init__(self):
        self.failures: dict[str, str] = {}
        self.count = 0
        self._lock = threading.Lock()

    def add(self, error: VideoDecodeError) -> None:
        with self._lock:
            self.count += 1
            first = error.path not in self.failures
            if first:
                self.failures[error.path] = error.reason
        if first:
            log.warning("skipping video: %s", error)

    def __len__(self) -> int:
        return len(self.failures)

    def __repr__(self) -> str:
        return f"DecodeErrorLog({len(self)} files, {self.count} failures)"


def failures_csv(failures: dict[str, str]) -> str:
    """The text of a ``failed_videos.csv``: a ``video,reason`` row per failed video, in
    the order of ``failures``."""
    import csv
    import io

    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["video", "reason"])
    writer.writerows(failures.items())
    return table.getvalue()


# ------------------------------------------------------------------------------ sampling

def _dense(n, rng, clip_len, rate):
    return sampling.dense_train_indices(n, rng, clip_len, rate)


def _dense_center(n, rng, clip_len, rate):
    return sampling.dense_val_indices(n, None, clip_len, rate)


def _segment(n, rng, clip_len, rate):
    return sampling.segment_train_indices(n, rng, clip_len)


def _uniform(n, rng, clip_len, rate):
    return sampling.uniform_sample(n, clip_len, 1, test_mode=False, rng=rng)[0]


def _uniform_test(n, rng, clip_len, rate):
    return sampling.uniform_sample(n, clip_len, 1, test_mode=True)[0]


def _pretrain_window(n, rng, clip_len, rate):
    return sampling.pretrain_window_indices(n, rng, clip_len, rate)


#: Named single-clip samplers ``(num_frames, rng, clip_len, sampling_rate) -> indices``:
#: ``dense`` official K400 fine-tuning, ``dense_center`` its deterministic centred
#: window, ``segment`` VideoMAE SSV2 (TSN), ``uniform`` / ``uniform_test`` mmaction2
#: UniformSample (= V2 SSV2) in train / test mode, ``pretrain`` the pretraining window.
SAMPLERS = {"dense": _dense, "dense_center": _dense_center, "segment": _segment,
            "uniform": _uniform, "uniform_test": _uniform_test, "pretrain": _pretrain_window}


def _sampler(name_or_fn) -> Callable:
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in SAMPLERS:
        raise InputError(f"unknown sampler '{name_or_fn}'; expected a callable or one of "
                         f"{sorted(SAMPLERS)}")
    return SAMPLERS[name_or_fn]


# ------------------------------------------------------------------------------- generic

def _as_records(records, root) -> list[VideoRecord]:
    if isinstance(records, (str, os.PathLike)):
        return read_annotations(records, root=root)
    records = list(records)
    if root is not None:
        records = [r if os.path.isabs(r.path) else
                   VideoRecord(os.path.join(os.fspath(root), r.path), r.label, r.num_frames)
                   for r in records]
    return records


def _labels(records: Sequence[VideoRecord]) -> np.ndarray:
    unlabelled = [r.path for r in records if r.label is None]
    if unlabelled:
        raise InputError(f"{len(unlabelled)} records have no label (e.g. '{unlabelled[0]}'); "
                         "a labelled list is needed here")
    return np.array([r.label for r in records], np.int32)


def video_dataset(records: Sequence[VideoRecord], load: Callable, specs: Sequence[tf.TensorSpec],
                  *, shuffle: bool = False, repeat: bool | int = False, seed: int | None = None,
                  num_parallel_calls: int | None = None, deterministic: bool = True,
                  on_error: str = "skip", error_log: DecodeErrorLog | None = None,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Decode ``records`` in parallel into a dataset of single views (unbatched).

    ``load(index, rng)`` decodes ``records[index]`` and returns one array per spec, each
    with a leading view axis (every array the same number of views); ``specs`` give the
    per-view shape and dtype. A :class:`VideoDecodeError` in ``load`` is skipped (zero
    views) or raised according to ``on_error``. ``num_parallel_calls`` defaults to the
    CPU count; ``repeat=True`` repeats forever, an int that many times.
    """
    if on_error not in ("skip", "raise"):
        raise InputError(f"on_error must be 'skip' or 'raise', got '{on_error}'")
    if not records:
        raise InputError("no records to load")
    error_log = error_log if error_log is not None else DecodeErrorLog()
    pipelines = input_context.num_input_pipelines if input_context is not None else 1
    shard = -(-len(records) // pipelines)
    # repeating for ever, a list with no readable video would spin: stop after a failure
    # run longer than two passes can hold with one good file (a good file first in one
    # pass and last in the next leaves 2 * shard - 2 failures between its reads)
    limit = 2 * shard - 1 if repeat is True else float("inf")
    streak = _FailureStreak(limit, f"the {shard} videos of this input pipeline")
    specs = list(specs)
    empty = [np.zeros((0,) + tuple(s.shape), s.dtype.as_numpy_dtype) for s in specs]

    def py_load(index, element_seed):
        rng = np.random.default_rng(int(element_seed) & 0xFFFFFFFFFFFFFFFF)
        path = records[int(index)].path
        try:
            arrays = load(int(index), rng)
        except VideoDecodeError as e:
            if on_error == "raise":  # without the decoder's own chained traceback
                raise VideoDecodeError(e.path, e.reason) from None
            error_log.add(e)
            streak.failure(e)
            return empty
        except Exception as e:  # not the file's fault: a bug or a bad setting; name the file
            raise RuntimeError(f"preparing '{path}' failed: {type(e).__name__}: {e}") from e
        streak.success()
        arrays = [np.asarray(a, s.dtype.as_numpy_dtype) for a, s in zip(arrays, specs)]
        for array, spec in zip(arrays, specs):
            if array.shape[1:] != tuple(spec.shape) or len(array) != len(arrays[0]):
                raise InputError(f"preparing '{path}' gave views of shape {array.shape}, "
                                 f"expected (views, *{tuple(spec.shape)})")
        return arrays

    def tf_load(index, element_seed):
        out = tf.numpy_function(py_load, [index, element_seed], [s.dtype for s in specs],
                                stateful=False, name="decode_video")
        for tensor, spec in zip(out, specs):
            tensor.set_shape([None] + spec.shape.as_list())
        return tuple(out)

    seed_shift = 0
    ds = tf.data.Dataset.range(len(records))
    if input_context is not None:  # shard the file list, not the decoded clips
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        seed_shift = input_context.input_pipeline_id
    if shuffle:
        ds = ds.shuffle(len(records), seed=seed, reshuffle_each_iteration=True)
    if repeat is True:
        ds = ds.repeat()
    elif repeat:
        ds = ds.repeat(int(repeat))
    element_seeds = tf.data.Dataset.random(
        seed=None if seed is None else seed * 1_000_003 + seed_shift,
        rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, element_seeds)
    ds = ds.map(tf_load, num_parallel_calls=num_parallel_calls or os.cpu_count() or 1,
                deterministic=deterministic)
    ds = ds.unbatch()
    options = tf.data.Options()
    options.deterministic = deterministic
    if input_context is not None:  # already sharded by hand
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options)


def _finish(ds: tf.data.Dataset, batch_size: int | None, drop_remainder: bool) -> tf.data.Dataset:
    if batch_size:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE)


def _read(path: str, sample: Callable, *, backend: str, timeout: float | None,
          short_side: int | None) -> np.ndarray:
    """Decode the frames ``sample(num_frames)`` picks, then the optional short-side resize."""
    frames, _ = read_clip(path, lambda n, fps: sample(n), backend=backend, timeout=timeout)
    if short_side:
        frames = transforms.resize_short_side(frames, short_side)
    return frames


# -------------------------------------------------------------------------------- builders

def finetune_dataset(records, *, root=None, num_frames: int = 16, sampling_rate: int = 4,
                     crop_size: int = 224, num_sample: int = 2, sampler="dense",
                     rand_aug: str | None = "rand-m7-n4-mstd0.5-inc1", flip: bool = True,
                     erase_prob: float = 0.25, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                     color_jitter: bool = False, erase_max_area: float = 1 / 3,
                     batch_size: int | None = None,
                     drop_remainder: bool = True, mixup: dict | None = None,
                     shuffle: bool = True, repeat: bool | int = False, seed: int | None = None,
                     deterministic: bool = True, num_parallel_calls: int | None = None,
                     backend: str = "auto", timeout: float | None = DEFAULT_TIMEOUT,
                     decode_short_side: int | None = None, on_error: str = "skip",
                     error_log: DecodeErrorLog | None = None,
                     input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Fine-tuning clips: official sampler + train augmentation, ``num_sample`` views per video.

    ``records``: VideoRecords or an annotation file (read with ``root``). Each decoded
    video gives ``num_sample`` independently augmented views (repeated augmentation),
    adjacent in the stream. ``sampler``: a name in :data:`SAMPLERS` or a callable
    ``(num_frames, rng, clip_len, sampling_rate) -> indices`` (``"segment"`` for SSV2,
    with ``flip=False``). ``mixup``: keyword arguments for
    ``transforms.mixup_cutmix_tf`` (at least ``num_classes``), applied per batch; needs
    ``batch_size``. ``decode_short_side``: resize frames to this short side right after
    decoding (the official data is pre-resized to 320 offline; useful for large videos).
    ``ratio``: the random resized crop's aspect range; ``color_jitter``: add the
    ColorJitter of the MA-52 recipe; ``erase_max_area``: random erasing's largest box.
    """
    records = _as_records(records, root)
    labels = _labels(records)
    sample = _sampler(sampler)
    read = functools.partial(_read, backend=backend, timeout=timeout, short_side=decode_short_side)

    def load(index, rng):
        frames = read(records[index].path, lambda n: sample(n, rng, num_frames, sampling_rate))
        views = [transforms.finetune_train_transform(
            frames, rng, size=crop_size, rand_aug=rand_aug, flip=flip, erase_prob=erase_prob,
            scale=scale, ratio=ratio, jitter=color_jitter, erase_max_area=erase_max_area)
            for _ in range(num_sample)]
        return np.stack(views), np.full(num_sample, labels[index], np.int32)

    specs = [tf.TensorSpec((num_frames, crop_size, crop_size, 3), tf.float32),
             tf.TensorSpec((), tf.int32)]
    ds = video_dataset(records, load, specs, shuffle=shuffle, repeat=repeat, seed=seed,
                       num_parallel_calls=num_parallel_calls, deterministic=deterministic,
                       on_error=on_error, error_log=error_log, input_context=input_context)
    if mixup:
        if not batch_size:
            raise InputError("mixup works on batches: give batch_size too")
        return with_mixup(ds.batch(batch_size, drop_remainder=drop_remainder), mixup, seed,
                          deterministic)
    return _finish(ds, batch_size, drop_remainder)


def with_mixup(batches: tf.data.Dataset, mixup: dict, seed: int | None,
               deterministic: bool = True) -> tf.data.Dataset:
    """``transforms.mixup_cutmix_tf(**mixup)`` on every batch, seeded by ``seed`` and the
    batch's number (the same batches mix the same way on a rerun)."""
    base = 0 if seed is None else seed
    batches = batches.enumerate().map(
        lambda i, xy: transforms.mixup_cutmix_tf(xy[0], xy[1],
                                                 tf.stack([tf.constant(base, tf.int64), i]),
                                                 **mixup),
        num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    return batches.prefetch(AUTOTUNE)


def validation_dataset(records, *, root=None, num_frames: int = 16, sampling_rate: int = 4,
                       short_side: int = 224, crop_size: int = 224, sampler="dense_center",
                       batch_size: int | None = None, drop_remainder: bool = False,
                       deterministic: bool = True, num_parallel_calls: int | None = None,
                       backend: str = "auto", timeout: float | None = DEFAULT_TIMEOUT,
                       decode_short_side: int | None = None, on_error: str = "skip",
                       error_log: DecodeErrorLog | None = None,
                       input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Validation: one clip per video (centred dense window by default), short side to
    ``short_side``, centre crop ``crop_size``, normalised. Yields ``(clip, label)``.

    The official validation mode draws a random window like training; pass
    ``sampler="dense"`` for that."""
    records = _as_records(records, root)
    labels = _labels(records)
    sample = _sampler(sampler)
    read = functools.partial(_read, backend=backend, timeout=timeout, short_side=decode_short_side)

    def load(index, rng):
        frames = read(records[index].path, lambda n: sample(n, rng, num_frames, sampling_rate))
        clip = transforms.eval_transform(frames, short_side=short_side, crop_size=crop_size)
        return clip[None], labels[index:index + 1]

    specs = [tf.TensorSpec((num_frames, crop_size, crop_size, 3), tf.float32),
             tf.TensorSpec((), tf.int32)]
    ds = video_dataset(records, load, specs, num_parallel_calls=num_parallel_calls,
                       deterministic=deterministic, on_error=on_error, error_log=error_log,
                       input_context=input_context)
    return _finish(ds, batch_size, drop_remainder)


def pretrain_dataset(records, *, root=None, num_frames: int = 16, sampling_rate: int = 4,
                     crop_size: int = 224, patch_size: int = 16, tubelet_size: int = 2,
                     mask_type: str = "tube", mask_ratio: float = 0.9,
                     decoder_mask_type: str | None = None, decoder_mask_ratio: float = 0.5,
                     num_sample: int = 1, sampler="pretrain", batch_size: int | None = None,
                     drop_remainder: bool = True, shuffle: bool = True,
                     repeat: bool | int = False, seed: int | None = None,
                     deterministic: bool = True, num_parallel_calls: int | None = None,
                     backend: str = "auto", timeout: float | None = DEFAULT_TIMEOUT,
                     decode_short_side: int | None = None, on_error: str = "skip",
                     error_log: DecodeErrorLog | None = None,
                     input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Pretraining: random window, multi-scale crop, and a mask per view (labels ignored).

    Yields ``{"pixel_values", "visible_index", "reconstruct_index"}``. ``mask_type``:
    ``"tube"`` (official) or ``"random"``; ``decoder_mask_type="running_cell"`` gives
    VideoMAE V2's decoder masking (reconstruct only what it keeps), otherwise every
    encoder-masked token is reconstructed (V1). ``num_sample``: views per decoded video
    (V2 uses 4).
    """
    records = _as_records(records, root)
    sample = _sampler(sampler)
    read = functools.partial(_read, backend=backend, timeout=timeout, short_side=decode_short_side)
    if num_frames % tubelet_size or crop_size % patch_size:
        raise InputError(f"num_frames {num_frames} must be a multiple of tubelet_size "
                         f"{tubelet_size} and crop_size {crop_size} of patch_size {patch_size}")
    grid = (num_frames // tubelet_size, crop_size // patch_size, crop_size // patch_size)
    num_tokens = int(np.prod(grid))
    num_visible = num_tokens - masking.num_masked(grid, mask_ratio, mask_type)
    num_reconstruct = (num_tokens - num_visible if decoder_mask_type is None else
                       num_tokens - masking.num_masked(grid, decoder_mask_ratio, decoder_mask_type))

    def masks(rng):
        encoder = masking.make_mask(mask_type, grid, mask_ratio, rng)
        visible = masking.mask_to_indices(encoder, num_visible)
        if decoder_mask_type is None:  # V1: reconstruct every masked token
            return visible, masking.mask_to_indices(~encoder, num_reconstruct)
        decoder = masking.make_mask(decoder_mask_type, grid, decoder_mask_ratio, rng)
        return visible, masking.mask_to_indices(decoder, num_reconstruct)

    def load(index, rng):
        frames = read(records[index].path, lambda n: sample(n, rng, num_frames, sampling_rate))
        clips, visible, reconstruct = [], [], []
        for _ in range(num_sample):
            clips.append(transforms.pretrain_transform(frames, rng, size=crop_size))
            v, r = masks(rng)
            visible.append(v)
            reconstruct.append(r)
        return np.stack(clips), np.stack(visible), np.stack(reconstruct)

    specs = [tf.TensorSpec((num_frames, crop_size, crop_size, 3), tf.float32),
             tf.TensorSpec((num_visible,), tf.int32), tf.TensorSpec((num_reconstruct,), tf.int32)]
    ds = video_dataset(records, load, specs, shuffle=shuffle, repeat=repeat, seed=seed,
                       num_parallel_calls=num_parallel_calls, deterministic=deterministic,
                       on_error=on_error, error_log=error_log, input_context=input_context)
    ds = ds.map(lambda x, v, r: {"pixel_values": x, "visible_index": v, "reconstruct_index": r})
    return _finish(ds, batch_size, drop_remainder)


def multiview_dataset(records, *, root=None, num_frames: int = 16, sampling_rate: int = 4,
                 num_clips: int = 5, num_crops: int = 3, short_side: int = 224,
                 crop_size: int = 224, sampler: str = "dense", batch_size: int | None = None,
                 deterministic: bool = True, num_parallel_calls: int | None = None,
                 backend: str = "auto", timeout: float | None = DEFAULT_TIMEOUT,
                 decode_short_side: int | None = None, on_error: str = "skip",
                 error_log: DecodeErrorLog | None = None,
                 input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Multi-view testing: ``num_clips`` x ``num_crops`` views per video, each tagged.

    ``sampler="dense"``: the official K400 clips (every ``sampling_rate``-th frame, clip
    starts spread evenly); ``"segment"``: the SSV2 segment clips (``num_clips`` <= 2);
    ``"uniform"``: mmaction2's ``UniformSample`` test clips (the MA-52 recipe: 3 clips).
    Every clip is resized to short side ``short_side`` and cut into ``num_crops`` crops
    along the long side (VideoMAE offsets). Yields dicts ``video`` float32
    ``(T, S, S, 3)``, ``label``, ``video_id`` (index into ``records``) and ``view``
    (``clip * num_crops + crop``). Views of one video are adjacent.
    """
    records = _as_records(records, root)
    labels = _labels(records)
    read = functools.partial(_read, backend=backend, timeout=timeout, short_side=decode_short_side)
    if sampler == "dense":
        def clip_indices(n):
            return sampling.dense_test_indices(n, num_frames, sampling_rate, num_clips)
    elif sampler == "segment":
        def clip_indices(n):
            return sampling.segment_test_indices(n, num_frames, num_clips)
    elif sampler == "uniform":
        def clip_indices(n):
            return sampling.uniform_sample(n, num_frames, num_clips, test_mode=True)
    else:
        raise InputError(f"test sampler must be 'dense', 'segment' or 'uniform', got '{sampler}'")

    def load(index, rng):
        chosen = {}

        def sample(n):
            chosen["clips"] = clip_indices(n)
            return np.unique(chosen["clips"])  # decode each frame once

        frames = read(records[index].path, sample)
        frames = transforms.resize_short_side(frames, short_side)  # each frame once
        clips = chosen["clips"]
        position = np.searchsorted(np.unique(clips), clips)
        height, width = frames.shape[1:3]
        offsets = ([transforms.center_crop_box(height, width, crop_size)[:2]] if num_crops == 1
                   else transforms.three_crop_offsets(height, width, crop_size, num_crops=num_crops))
        views = [transforms.normalize(frames[clip, top:top + crop_size, left:left + crop_size])
                 for clip in position for top, left in offsets]
        count = len(views)
        return (np.stack(views), np.full(count, labels[index], np.int32),
                np.full(count, index, np.int32), np.arange(count, dtype=np.int32))

    specs = [tf.TensorSpec((num_frames, crop_size, crop_size, 3), tf.float32),
             tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.int32)]
    ds = video_dataset(records, load, specs, num_parallel_calls=num_parallel_calls,
                       deterministic=deterministic, on_error=on_error, error_log=error_log,
                       input_context=input_context)
    ds = ds.map(lambda x, y, v, i: {"video": x, "label": y, "video_id": v, "view": i})
    return _finish(ds, batch_size, False)

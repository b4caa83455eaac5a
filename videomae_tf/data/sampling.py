"""Frame-index samplers: which frames of a video make a clip.

Pure numpy functions that mirror the official samplers exactly
(docs/numerics.md#samplers):

* VideoMAE `kinetics.py` (`loadvideo_decord`): the dense fine-tuning sampler for
  train / validation and the K400 multi-clip test sampler.
* VideoMAE `datasets.py` / `kinetics.py` `VideoMAE._sample_train_indices` +
  `_video_TSN_decord_batch_loader`: the pretraining window.
* VideoMAE `ssv2.py` (`SSVideoClsDataset.loadvideo_decord`): SSV2 segment sampling, and
  VideoMAE V2 `ssv2.py` `_get_seq_frames` (== mmaction2 `UniformSample`).
* mmaction2 `UniformSample` and `SampleFrames`.

``video_len`` is the decoded video's frame count; ``clip_len`` the frames of one clip.
Every function returns int64 indices into the decoded video (0-based). Single-clip
samplers return shape (clip_len,); samplers with a ``num_clips`` argument always return
(num_clips, clip_len) so callers get a static rank. Randomness comes only from the
``rng: np.random.Generator`` argument.
"""

from __future__ import annotations

import numpy as np

from videomae_tf.errors import InputError

__all__ = [
    "dense_clip_indices",
    "dense_train_indices",
    "dense_val_indices",
    "dense_test_indices",
    "pretrain_window_indices",
    "segment_train_indices",
    "segment_test_indices",
    "uniform_sample",
    "sample_frames",
]


def _as_int64(index) -> np.ndarray:
    return np.asarray(index).astype(np.int64)


def _check_video_len(video_len: int) -> int:
    video_len = int(video_len)
    if video_len < 1:
        raise InputError(f"a video needs at least 1 frame to sample from, "
                         f"got video_len={video_len}")
    return video_len


# --------------------------------------------------------------------------- VideoMAE K400

def dense_clip_indices(video_len: int, end: int | None, clip_len: int = 16,
                       frame_sample_rate: int = 4) -> np.ndarray:
    """Official dense fine-tune clip for a given window end (VideoMAE `loadvideo_decord`).

    If ``video_len > clip_len * frame_sample_rate`` the window is [end - converted, end)
    and ``end`` must lie in [converted, video_len); the indices are
    ``linspace(start, end, clip_len)`` clipped to [start, end - 1] and truncated.
    Otherwise (short video; ``end`` is ignored) ``linspace(0, n, n // rate)`` padded with
    n up to clip_len and clipped to n - 1. Returns (clip_len,) int64.
    """
    n = _check_video_len(video_len)
    converted_len = int(clip_len * frame_sample_rate)
    if n <= converted_len:
        index = np.linspace(0, n, num=n // frame_sample_rate)
        index = np.concatenate((index, np.ones(clip_len - n // frame_sample_rate) * n))
        return np.clip(index, 0, n - 1).astype(np.int64)
    if end is None or not converted_len <= end < n:
        raise InputError(f"window end must lie in [{converted_len}, {n}) for a {n}-frame "
                         f"video, got end={end}")
    start = end - converted_len
    index = np.linspace(start, end, num=clip_len)
    return np.clip(index, start, end - 1).astype(np.int64)


def dense_train_indices(video_len: int, rng: np.random.Generator, clip_len: int = 16,
                        frame_sample_rate: int = 4) -> np.ndarray:
    """Official K400 fine-tune training clip: ``end`` uniform in [converted, n) (numpy's
    `randint(converted_len, seg_len)` with num_segment=1). Returns (clip_len,) int64."""
    n = _check_video_len(video_len)
    converted_len = int(clip_len * frame_sample_rate)
    end = int(rng.integers(converted_len, n)) if n > converted_len else None
    return dense_clip_indices(n, end, clip_len, frame_sample_rate)


def dense_val_indices(video_len: int, rng: np.random.Generator | None = None,
                      clip_len: int = 16, frame_sample_rate: int = 4) -> np.ndarray:
    """Validation clip. The official 'validation' mode uses the SAME random sampler as
    training (pass ``rng`` to reproduce it); with ``rng=None`` the window is centred
    (end = (n + converted) // 2), a deterministic choice for reproducible evaluation.
    Returns (clip_len,) int64.
    """
    if rng is not None:
        return dense_train_indices(video_len, rng, clip_len, frame_sample_rate)
    n = _check_video_len(video_len)
    converted_len = int(clip_len * frame_sample_rate)
    end = (n + converted_len) // 2 if n > converted_len else None
    return dense_clip_indices(n, end, clip_len, frame_sample_rate)


def dense_test_indices(video_len: int, clip_len: int = 16, frame_sample_rate: int = 4,
                       num_clips: int = 5) -> np.ndarray:
    """Official K400 test clips (VideoMAE `mode == 'test'`).

    all_index = range(0, n, rate) padded with its last entry to >= clip_len; clip k is
    all_index[s:s + clip_len] with s = int(k * max((len - clip_len) / (num_clips - 1), 0)).
    Returns (num_clips, clip_len) int64.
    """
    n = _check_video_len(video_len)
    all_index = list(range(0, n, frame_sample_rate))
    while len(all_index) < clip_len:
        all_index.append(all_index[-1])
    all_index = np.asarray(all_index, dtype=np.int64)
    step = max(1.0 * (len(all_index) - clip_len) / (num_clips - 1), 0) if num_clips > 1 else 0.0
    starts = [int(k * step) for k in range(num_clips)]
    return np.stack([all_index[s:s + clip_len] for s in starts])


def pretrain_window_indices(video_len: int, rng: np.random.Generator | None,
                            clip_len: int = 16, frame_sample_rate: int = 4,
                            start: int | None = None) -> np.ndarray:
    """Pretraining clip: a random contiguous window of clip_len * rate frames, every
    rate-th frame (rate 4 for K400, 2 for SSV2), as VideoMAE `_sample_train_indices` +
    `_video_TSN_decord_batch_loader` (num_segments=1). Videos shorter than the window
    start at frame 0 and repeat the last reachable frame. ``start`` fixes the window
    start (0-based) instead of drawing it from ``rng``. Returns (clip_len,) int64.
    """
    n = _check_video_len(video_len)
    skip_length = clip_len * frame_sample_rate
    average_duration = n - skip_length + 1  # num_segments = 1
    if start is None:
        if average_duration > 0:
            if rng is None:
                raise InputError("pretrain_window_indices needs rng (or start) to draw a window")
            start = int(rng.integers(average_duration))
        else:
            start = 0
    elif average_duration > 0 and not 0 <= start < average_duration:
        raise InputError(f"window start must lie in [0, {average_duration}) for a {n}-frame "
                         f"video, got start={start}")
    elif average_duration <= 0:
        start = 0
    # The official loop: 1-based `offset`, advanced only while offset + step < n.
    offset = start + 1
    frame_ids = []
    for _ in range(clip_len):
        frame_ids.append(offset - 1)
        if offset + frame_sample_rate < n:
            offset += frame_sample_rate
    return _as_int64(frame_ids)


# --------------------------------------------------------------------------- VideoMAE SSV2

def segment_train_indices(video_len: int, rng: np.random.Generator,
                          num_segments: int = 16) -> np.ndarray:
    """VideoMAE V1 SSV2 train/validation sampling (TSN style, `ssv2.py`): one random frame
    in each of ``num_segments`` equal segments, i * (n // segs) + randint(n // segs); when
    n < segs, sorted random frames (n > segs impossible there) or all zeros, as the
    official fallbacks. Returns (num_segments,) int64.
    """
    n = _check_video_len(video_len)
    average_duration = n // num_segments
    if average_duration > 0:
        index = (np.arange(num_segments) * average_duration
                 + rng.integers(average_duration, size=num_segments))
    elif n > num_segments:  # unreachable (kept to mirror the official branches)
        index = np.sort(rng.integers(n, size=num_segments))
    else:
        index = np.zeros(num_segments)
    return _as_int64(index)


def segment_test_indices(video_len: int, num_segments: int = 16,
                         num_clips: int = 2) -> np.ndarray:
    """VideoMAE V1 SSV2 test sampling (`ssv2.py`, mode 'test'): tick = n / segs; the
    official code decodes the sorted union of int(tick * i) and int(tick / 2 + tick * i)
    and clip k takes every 2nd frame from k, i.e. clip 0 = segment starts, clip 1 =
    segment centres. Only num_clips=2 exists officially. Returns (2, segs) int64.
    """
    if num_clips != 2:
        raise InputError(f"VideoMAE SSV2 test sampling defines exactly 2 clips, got "
                         f"num_clips={num_clips}; use uniform_sample(test_mode=True) instead")
    n = _check_video_len(video_len)
    tick = n / float(num_segments)
    centres = [int(tick / 2.0 + tick * x) for x in range(num_segments)]
    starts = [int(tick * x) for x in range(num_segments)]
    all_index = np.sort(np.asarray(centres + starts, dtype=np.int64))
    return np.stack([all_index[k::2] for k in range(num_clips)])


# --------------------------------------------------------------------------- mmaction2

def uniform_sample(video_len: int, clip_len: int = 16, num_clips: int = 1,
                   test_mode: bool = False,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """mmaction2 `UniformSample` (== VideoMAE V2 SSV2 `_get_seq_frames`).

    seg = (n - 1) / clip_len. Train: index i uniform in [round(seg*i), round(seg*(i+1))]
    (num_clips independent draws). Test: clip k, index i = round(seg*i) +
    int(seg / (num_clips + 1) * (k + 1)). round is half-to-even. Returns
    (num_clips, clip_len) int64.
    """
    n = _check_video_len(video_len)
    seg_size = float(n - 1) / clip_len
    bounds = np.round(seg_size * np.arange(clip_len + 1)).astype(np.int64)  # half-to-even
    if not test_mode:
        if rng is None:
            raise InputError("uniform_sample(test_mode=False) needs rng")
        low, high = bounds[:-1], bounds[1:]
        return _as_int64(rng.integers(low, high + 1, size=(num_clips, clip_len)))
    duration = seg_size / (num_clips + 1)
    shifts = np.array([int(duration * (k + 1)) for k in range(num_clips)], dtype=np.int64)
    return bounds[None, :-1] + shifts[:, None]


def _sample_frames_train_offsets(n: int, span: int, num_clips: int,
                                 rng: np.random.Generator) -> np.ndarray:
    """mmaction2 `SampleFrames._get_train_clips` (keep_tail_frames=False)."""
    avg_interval = (n - span + 1) // num_clips
    if avg_interval > 0:
        return np.arange(num_clips) * avg_interval + rng.integers(avg_interval, size=num_clips)
    if n > max(num_clips, span):
        return np.sort(rng.integers(n - span + 1, size=num_clips))
    if avg_interval == 0:
        ratio = (n - span + 1.0) / num_clips
        return np.around(np.arange(num_clips) * ratio)
    return np.zeros(num_clips)


def _sample_frames_test_offsets(n: int, span: int, clip_len: int,
                                num_clips: int) -> np.ndarray:
    """mmaction2 `SampleFrames._get_test_clips` (no twice_sample, no target_fps)."""
    if clip_len == 1:  # 2-D recognisers: segment centres
        avg_interval = n / float(num_clips)
        return np.arange(num_clips) * avg_interval + avg_interval / 2.0
    max_offset = max(n - span, 0)
    if num_clips > 1:
        return np.round(np.arange(num_clips) * (max_offset / float(num_clips - 1)))
    return np.array([max_offset // 2])


def sample_frames(video_len: int, clip_len: int, frame_interval: int = 1,
                  num_clips: int = 1, test_mode: bool = False,
                  rng: np.random.Generator | None = None,
                  out_of_bound: str = "loop") -> np.ndarray:
    """mmaction2 `SampleFrames` (keep_tail_frames=False, no temporal jitter).

    Test: span = (clip_len - 1) * interval + 1, max_offset = max(n - span, 0), offsets
    round(k * max_offset / (num_clips - 1)) (max_offset // 2 for one clip). Train: offsets
    per mmaction2 `_get_train_clips` with span clip_len * interval. Indices are
    offset + interval * arange(clip_len), then wrapped modulo n (``'loop'``) or clamped to
    n - 1 (``'repeat_last'``). Returns (num_clips, clip_len) int64.
    """
    n = _check_video_len(video_len)
    if test_mode:
        span = (clip_len - 1) * frame_interval + 1
        offsets = _sample_frames_test_offsets(n, span, clip_len, num_clips)
    else:
        if rng is None:
            raise InputError("sample_frames(test_mode=False) needs rng")
        offsets = _sample_frames_train_offsets(n, clip_len * frame_interval, num_clips, rng)
    # mmaction2 keeps float offsets and casts the final indices with astype(int32).
    index = (offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval).astype(np.int64)
    if out_of_bound == "loop":
        return np.mod(index, n)
    if out_of_bound == "repeat_last":
        safe = index < n
        last = np.max(np.where(safe, index, 0), axis=1, keepdims=True)
        return np.where(safe, index, last)
    raise InputError(f"out_of_bound must be 'loop' or 'repeat_last', got {out_of_bound!r}")

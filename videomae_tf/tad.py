"""Dense-window features for temporal action detection (ActionFormer and other detectors),
made as VideoMAE V2's ``extract_tad_feature.py`` makes them.

Every ``length`` consecutive frames (no frame skipping) form a window, and a window starts
every ``stride`` frames while a whole one fits: starts ``range(0, frames - length + 1,
stride)``, the official ``range(0, num_frames - 15, 4)`` for THUMOS14 and ``..., 16)`` for
FineAction. Each frame is scaled to [0, 1] and resized to ``size`` (bilinear, half-pixel
centres, no crop, the aspect ratio not kept), and, as in the official script, *not*
normalised by the ImageNet mean and std (``normalize=True`` does that). A video's
features are the pooled features (``forward_features``) of its windows in order, one
``(windows, D)`` array. A video shorter than one window has no window (the official
script stops there) and is reported as failed.

Frames are decoded as a stream and only one window of resized frames is held, with
``batch_size`` windows waiting for the model: an hour-long video needs that much memory,
plus its features.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from videomae_tf.errors import InputError

__all__ = ["TAD_PRESETS", "TadWindows", "parse_size", "tad_window_starts", "tad_windows"]


def parse_size(size) -> tuple[int, int]:
    """``224``, ``"224"``, ``"224x160"`` (height x width) or ``(224, 160)`` as (height,
    width) positive ints; anything else is an InputError naming the value."""
    if isinstance(size, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", size)
        if not match:
            raise InputError(f"size {size!r}: expected HEIGHTxWIDTH (224x224) or one number")
        height = int(match.group(1))
        size = (height, int(match.group(2) or height))
    elif isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    try:
        height, width = size
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"size {size!r}: expected (height, width), two integers >= 1")
    return int(height), int(width)


@dataclasses.dataclass(frozen=True)
class TadWindows:
    """How a video is cut into detection windows (the defaults are THUMOS14's)."""

    length: int = 16  # consecutive frames per window: the model's clip length
    stride: int = 4  # frames from one window's start to the next
    size: tuple[int, int] = (224, 224)  # (height, width) every frame is resized to
    normalize: bool = False  # ImageNet mean/std after the [0, 1] scaling: not official

    def __post_init__(self):
        for name in ("length", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"TAD window {name} must be an integer >= 1, got {value!r}")
        object.__setattr__(self, "size", parse_size(self.size))


#: The official settings of ``extract_tad_feature.py`` per dataset.
TAD_PRESETS = {"thumos14": TadWindows(16, 4), "fineaction": TadWindows(16, 16)}


def tad_window_starts(num_frames: int, windows: TadWindows) -> range:
    """The first frame of every window of a ``num_frames``-frame video."""
    return range(0, num_frames - windows.length + 1, windows.stride)


def _bilinear_taps(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first source index, second, weight of the second) of each output pixel: torch's
    ``interpolate(mode="bilinear", align_corners=False)`` (half-pixel centres, clamped at
    the edges, no antialiasing)."""
    scale = np.float32(size_in / size_out)
    source = np.maximum((np.arange(size_out, dtype=np.float32) + np.float32(0.5)) * scale
                        - np.float32(0.5), np.float32(0))
    first = source.astype(np.int64)
    return first, np.minimum(first + 1, size_in - 1), (source - first).astype(np.float32)


def frame_preparer(windows: TadWindows) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 (H, W, 3) RGB -> float32 (height, width, 3): scaled to [0, 1] and resized in
    float as the official script resizes its float tensor, normalised if asked."""
    from videomae_tf.data.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD

    height, width = windows.size
    mean = np.asarray(IMAGENET_MEAN, np.float32)
    std = np.asarray(IMAGENET_STD, np.float32)
    taps: dict[tuple[int, int], tuple] = {}  # per source frame size

    def prepare(frame: np.ndarray) -> np.ndarray:
        shape = frame.shape[:2]
        if shape not in taps:
            taps[shape] = (_bilinear_taps(shape[0], height), _bilinear_taps(shape[1], width))
        (top, bottom, down), (left, right, across) = taps[shape]
        scaled = np.float32(1 / 255)
        down, across = down[:, None, None], across[None, :, None]
        upper = frame[top].astype(np.float32) * scaled  # only the rows that are read
        lower = frame[bottom].astype(np.float32) * scaled
        rows = upper * (1 - down) + lower * down
        out = rows[:, left] * (1 - across) + rows[:, right] * across
        return (out - mean) / std if windows.normalize else out
    return prepare


def tad_windows(frames: Iterator[np.ndarray], windows: TadWindows
                ) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, clip float32 (length, height, width, 3))`` for each window, as its last
    frame arrives from the stream ``frames``."""
    prepare = frame_preparer(windows)
    held: collections.deque = collections.deque(maxlen=windows.length)
    for index, frame in enumerate(frames):
        held.append(prepare(frame))
        start = index - windows.length + 1
        if start >= 0 and start % windows.stride == 0:
            yield start, np.stack(held)


def check_model_fits(clip_shape, windows: TadWindows) -> None:
    """The model's clip (T, H, W) must be a window: ``length`` frames of ``size``."""
    frames, height, width = (int(v) for v in clip_shape[:3])
    if (frames, (height, width)) != (windows.length, windows.size):
        raise InputError(
            f"the model takes {frames}-frame {height}x{width} clips, but the TAD windows are "
            f"{windows.length} frames resized to {windows.size[0]}x{windows.size[1]}: give "
            f"--windows {frames} --resize {height}x{width}, or a model of the windows' clip")


def extract_windows(forward, todo, writer, report, windows: TadWindows, batch_size: int,
                    backend: str, progress: bool) -> None:
    """Write the ``(windows, D)`` pooled features of each ``(record, name)`` in ``todo``;
    a video that fails to decode, or has no window, goes to ``report.failed``."""
    from videomae_tf.data.decoders import VideoDecodeError, VideoReader
    from videomae_tf.evaluation.progress import batches_with_progress

    for record, name in todo:
        try:
            reader = VideoReader(record.path, backend, timeout=None)
        except VideoDecodeError as e:
            report.failed[record.path] = e.reason
            continue
        expected = len(tad_window_starts(reader.num_frames, windows))
        features = []
        try:
            clips = (clip for _, clip in tad_windows(reader.iter_frames(), windows))
            for batch in batches_with_progress(clips, batch_size, expected,
                                               f"tad {Path(record.path).name}", "window",
                                               progress):
                features.extend(forward(np.stack(batch))["pooled"])
        except VideoDecodeError as e:
            report.failed[record.path] = e.reason
            continue
        finally:
            reader.close()
        if not features:
            report.failed[record.path] = (f"{reader.num_frames} frames: shorter than one "
                                          f"{windows.length}-frame window")
            continue
        writer.write(name, {"pooled": np.stack(features).astype(np.float32, copy=False)})
        report.written.append(name)

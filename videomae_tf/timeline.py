"""Classify a long video window by window: ``videomae-tf predict VIDEO --timeline``.

The clip window (the model's T frames, every ``sampling_rate``-th) slides over the whole
video every ``stride`` seconds. Frames are decoded as a stream and only the last window's
worth is held (resized and centre-cropped), so an hour-long file needs the memory of one
clip, not of the video. Each window gets the model's class probabilities; the result is
written as CSV (a row per window), JSON and a PNG picture of the classes over time.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import io
import json
import logging
import os
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.data import transforms
from videomae_tf.evaluation.aggregation import softmax
from videomae_tf.evaluation.predict import top_k_predictions
from videomae_tf.evaluation.progress import batches_with_progress
from videomae_tf.files import write_png, write_text_atomic

__all__ = ["Timeline", "predict_timeline", "timeline_windows", "render_timeline",
           "write_timeline"]

log = logging.getLogger(__name__)

#: Frame rate assumed when a video does not report one (frame folders, odd containers).
FALLBACK_FPS = 25.0


@dataclasses.dataclass
class Timeline:
    """Per-window class probabilities of one video.

    ``starts``/``ends``: each window's first and last frame; ``probs``: (windows, classes).
    """

    video: str
    fps: float
    num_frames: int
    starts: np.ndarray
    ends: np.ndarray
    probs: np.ndarray
    class_names: list[str] | None = None

    def seconds(self, frames: np.ndarray) -> np.ndarray:
        return np.asarray(frames, np.float64) / self.fps

    def rows(self, k: int = 5) -> list[dict]:
        """One dict per window: index, start/end in seconds, and the top-k classes."""
        return [{"window": i, "start_s": round(float(self.seconds(s)), 3),
                 "end_s": round(float(self.seconds(e + 1)), 3),
                 "top": top_k_predictions(p, self.class_names, k)}
                for i, (s, e, p) in enumerate(zip(self.starts, self.ends, self.probs))]


def timeline_windows(num_frames: int, fps: float, stride_s: float, clip_len: int,
                     sampling_rate: int) -> list[np.ndarray]:
    """Frame indices of every window: starts every ``stride_s`` seconds while a whole
    window fits; a video shorter than one window gets one, its last frame repeated."""
    span = (clip_len - 1) * sampling_rate + 1
    step = max(1, int(round(stride_s * fps)))
    offsets = np.arange(clip_len) * sampling_rate
    if num_frames < span:
        return [np.minimum(offsets, num_frames - 1)]
    return [start + offsets for start in range(0, num_frames - span + 1, step)]


def _frame_preprocessor(crop_size: int, short_side: int):
    def prepare(frame: np.ndarray) -> np.ndarray:
        height, width = transforms.short_side_size(frame.shape[0], frame.shape[1], short_side)
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
        top, left, h, w = transforms.center_crop_box(height, width, crop_size)
        return frame[top:top + h, left:left + w]
    return prepare


def _stream_windows(frames: Iterator[np.ndarray], fps: float, stride_s: float, clip_len: int,
                    sampling_rate: int, prepare) -> Iterator[tuple]:
    """Yield ``(start, end, clip uint8 (T, S, S, 3))`` as each window's last frame arrives,
    holding at most one window span of prepared frames."""
    span = (clip_len - 1) * sampling_rate + 1
    step = max(1, int(round(stride_s * fps)))
    held: collections.deque = collections.deque(maxlen=span)
    next_start, seen = 0, 0
    for index, frame in enumerate(frames):
        held.append((index, prepare(frame)))
        seen = index + 1
        while next_start + span - 1 == index:
            first = held[0][0]
            clip = [held[next_start - first + t * sampling_rate][1] for t in range(clip_len)]
            yield next_start, index, np.stack(clip)
            next_start += step
    if seen and next_start == 0 and seen < span:  # shorter than one window: repeat the end
        by_index = dict(held)
        clip = [by_index[min(t * sampling_rate, seen - 1)] for t in range(clip_len)]
        yield 0, seen - 1, np.stack(clip)
    elif not seen:
        raise InputError("the video has no decodable frames")


def predict_timeline(model, video, *, stride_s: float = 1.0, sampling_rate: int = 4,
                     short_side: int | None = None, batch_size: int = 8,
                     class_names: Sequence[str] | None = None, backend: str = "auto",
                     progress: bool = True) -> Timeline:
    """Slide the model's clip window over ``video`` every ``stride_s`` seconds.

    ``model``: anything ``evaluation.as_inference_model`` takes (Keras classifier,
    SavedModel, callable with ``clip_shape``). Memory is bounded by one window of frames
    and ``batch_size`` clips, whatever the video's length.
    """
    from videomae_tf.data.decoders import VideoReader
    from videomae_tf.evaluation.inference import as_inference_model

    if stride_s <= 0:
        raise InputError(f"stride must be a positive number of seconds, got {stride_s}")
    if sampling_rate < 1 or batch_size < 1:
        raise InputError("sampling_rate and batch_size must be at least 1")
    run = as_inference_model(model)
    if run.clip_shape is None:
        raise InputError("the model does not say which clip shape it takes")
    clip_len, crop_size = run.clip_shape[0], run.clip_shape[1]
    short_side = short_side or crop_size
    if short_side < crop_size:
        raise InputError(f"short side {short_side} is smaller than the {crop_size}-pixel crop")
    reader = VideoReader(video, backend, timeout=None)
    fps = reader.fps
    if not fps or fps <= 0:
        log.warning("%s does not report its frame rate; assuming %g fps", video, FALLBACK_FPS)
        fps = FALLBACK_FPS
    expected = len(timeline_windows(reader.num_frames, fps, stride_s, clip_len, sampling_rate))
    windows = _stream_windows(reader.iter_frames(), fps, stride_s, clip_len, sampling_rate,
                              _frame_preprocessor(crop_size, short_side))
    starts, ends, probs = [], [], []
    try:
        for batch in batches_with_progress(windows, batch_size, expected,
                                           f"timeline {Path(video).name}", "window", progress):
            probs.extend(softmax(run(np.stack([transforms.normalize(c) for _, _, c in batch]))))
            starts.extend(s for s, _, _ in batch)
            ends.extend(e for _, e, _ in batch)
    finally:
        reader.close()
    names = list(class_names) if class_names is not None else run.class_names
    return Timeline(os.fspath(video), fps, reader.num_frames, np.array(starts), np.array(ends),
                    np.array(probs, np.float32), names)


# ------------------------------------------------------------------------------ outputs

def write_timeline(timeline: Timeline, output_dir, k: int = 5) -> dict[str, str]:
    """``<stem>.timeline.csv``, ``.json`` and ``.png`` in ``output_dir``; returns the paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(timeline.video).stem
    paths = {kind: output_dir / f"{stem}.timeline.{kind}" for kind in ("csv", "json", "png")}
    rows = timeline.rows(k)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["window", "start_s", "end_s"] + [f"{what}{rank}" for rank in range(1, k + 1)
                                                       for what in ("class", "probability")])
    for row in rows:
        writer.writerow([row["window"], f"{row['start_s']:.3f}", f"{row['end_s']:.3f}"]
                        + [v for t in row["top"] for v in (t["name"], f"{t['probability']:.6f}")])
    write_text_atomic(paths["csv"], table.getvalue())
    summary = {"video": timeline.video, "fps": timeline.fps, "num_frames": timeline.num_frames,
               "num_windows": len(rows), "windows": rows}
    write_text_atomic(paths["json"], json.dumps(summary, indent=1))
    write_png(paths["png"], cv2.cvtColor(render_timeline(timeline), cv2.COLOR_RGB2BGR))
    return {kind: str(path) for kind, path in paths.items()}


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_timeline(timeline: Timeline, max_classes: int = 10, width: int = 960) -> np.ndarray:
    """An RGB picture: a row per class that wins some window (most confident first, at
    most ``max_classes``), a column per window, brightness = probability; time below."""
    probs = timeline.probs
    winners = np.unique(np.argmax(probs, axis=1)) if len(probs) else np.array([], int)
    order = winners[np.argsort(-probs[:, winners].max(axis=0), kind="stable")][:max_classes]
    names = [timeline.class_names[c] if timeline.class_names else f"class {c}" for c in order]
    names = [n if len(n) <= 28 else n[:27] + "~" for n in names]
    row_h, left, top, bottom = 22, 12 + max([cv2.getTextSize(n, _FONT, 0.45, 1)[0][0]
                                             for n in names] + [60]), 40, 34
    plot_w = max(width - left - 12, 100)
    height = top + row_h * max(len(order), 1) + bottom
    image = np.full((height, left + plot_w + 12, 3), 255, np.uint8)
    duration = max(timeline.num_frames / timeline.fps, 1e-6)
    title = f"{Path(timeline.video).name}: {len(probs)} windows over {_clock(duration)}"
    cv2.putText(image, title, (12, 26), _FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    if len(order):
        # each pixel column shows the window whose centre is nearest its time
        centres = timeline.seconds((timeline.starts + timeline.ends + 1) / 2)
        column_times = (np.arange(plot_w) + 0.5) / plot_w * duration
        nearest = np.argmin(np.abs(column_times[:, None] - centres[None, :]), axis=1)
        heat = (probs[nearest][:, order].T * 255).astype(np.uint8)  # (classes, columns)
        heat = np.repeat(heat, row_h, axis=0)
        image[top:top + heat.shape[0], left:left + plot_w] = _colour(heat)
        for i, name in enumerate(names):
            y = top + i * row_h + 15
            cv2.putText(image, name, (8, y), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    _draw_legend(image, right=image.shape[1] - 12, y=14)
    axis_y = top + row_h * max(len(order), 1) + 4
    for tick in np.linspace(0, duration, num=min(6, max(2, len(probs) + 1))):
        x = left + int(round(tick / duration * (plot_w - 1)))
        cv2.line(image, (x, axis_y), (x, axis_y + 5), (0, 0, 0), 1)
        label = _clock(tick)
        tw = cv2.getTextSize(label, _FONT, 0.4, 1)[0][0]
        cv2.putText(image, label, (min(max(x - tw // 2, 0), image.shape[1] - tw), axis_y + 20),
                    _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def _colour(probability_u8: np.ndarray) -> np.ndarray:
    """RGB colours of probabilities scaled to 0-255: light (0) to dark (1)."""
    return cv2.applyColorMap(255 - probability_u8, cv2.COLORMAP_BONE)[..., ::-1]


def _draw_legend(image: np.ndarray, right: int, y: int, width: int = 120) -> None:
    """'probability 0 [gradient] 1' ending at column ``right``."""
    bar = _colour(np.repeat(np.linspace(0, 255, width).astype(np.uint8)[None], 10, axis=0))
    left = right - width - 12
    image[y:y + 10, left:left + width] = bar
    cv2.putText(image, "0", (left - 12, y + 9), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, "1", (left + width + 4, y + 9), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    label = "probability"
    tw = cv2.getTextSize(label, _FONT, 0.4, 1)[0][0]
    cv2.putText(image, label, (left - 18 - tw, y + 9), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)

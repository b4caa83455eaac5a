"""The embedded default dataset: small motion videos whose class needs more than a frame.

Every video shows one filled polygon (an elongated rectangle, a triangle or an arrow, in
a random bright colour, size and orientation) on a random dark plain background with mild
static noise, and moves it clearly (70-100 % of the free space, 240-330 degrees, or a 1.8-2.5x
scale change over the video) in one of eight ways -- the class:

    0 moving left        1 moving right       2 moving up          3 moving down
    4 rotating clockwise 5 rotating counter-clockwise 6 growing   7 shrinking

Speeds, start positions and angles are random, and paired classes are mirror images in
time (left = right played backwards), so the frame a random window starts on, taken
alone, says nothing about the class: only motion does. The videos are written with
OpenCV as MJPEG in ``.avi`` (intra-only, so random access is exact and decord, PyAV and
OpenCV return identical frames), 64x64 pixels and 32 frames by default, with train/val
lists in the VideoMAE ``path label`` format (paths relative to ``root``) and a label-map
file with one class name per line. Everything is a pure function of ``seed``; a second
call with the same arguments finds the manifest and returns at once.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from videomae_tf.errors import InputError

__all__ = ["SYNTHETIC_CLASSES", "make_synthetic_dataset", "render_video"]

SYNTHETIC_CLASSES = (
    "moving left", "moving right", "moving up", "moving down",
    "rotating clockwise", "rotating counter-clockwise", "growing", "shrinking",
)
_SHAPES = ("bar", "triangle", "arrow")
_MANIFEST = "manifest.json"
_FORMAT_VERSION = 2


def _outline(shape: str) -> np.ndarray:
    """Unit polygon (x, y) centred on 0 with long side ~2, pointing along +x."""
    if shape == "bar":
        return np.array([[-1, -0.4], [1, -0.4], [1, 0.4], [-1, 0.4]], np.float64)
    if shape == "triangle":
        return np.array([[-0.9, -0.8], [1.0, 0.0], [-0.9, 0.8]], np.float64)
    return np.array([[-1, -0.3], [0.2, -0.3], [0.2, -0.8], [1, 0], [0.2, 0.8], [0.2, 0.3],
                     [-1, 0.3]], np.float64)  # arrow


def _trajectory(label: int, t: np.ndarray, size: int, radius: float, rng: np.random.Generator):
    """Centre (T, 2), angle (T,) in degrees and scale (T,) of the shape for class ``label``."""
    n = len(t)
    span = t / max(n - 1, 1)  # 0 .. 1 over the video
    centre = np.tile(rng.uniform(radius + 2, size - radius - 2, size=2), (n, 1))
    angle = np.full(n, rng.uniform(0, 360))
    scale = np.ones(n)
    if label < 4:  # translation: a path of 70-100 % of the free space, kept inside the frame
        free = size - 2 * radius - 4
        dist = rng.uniform(0.7, 1.0) * free
        axis = 0 if label < 2 else 1
        sign = -1.0 if label in (0, 2) else 1.0  # left / up move towards smaller coordinates
        first = rng.uniform(radius + 2, size - radius - 2 - dist)
        path = first + dist * span
        centre[:, axis] = path[::-1] if sign < 0 else path
    elif label < 6:  # rotation: 240-330 degrees over the video; image y points down
        turn = rng.uniform(240, 330) * span
        angle = angle + (turn if label == 4 else -turn)
    else:  # growth: scale ratio 1.8-2.5 between the small and the big end
        ratio = rng.uniform(1.8, 2.5)
        grow = 1 / ratio + (1 - 1 / ratio) * span
        scale = grow if label == 6 else grow[::-1]
        centre[:] = size / 2 + rng.uniform(-0.1, 0.1, size=2) * size
    return centre, angle, scale


def render_video(label: int, rng: np.random.Generator, size: int = 64,
                 num_frames: int = 32) -> np.ndarray:
    """Draw one video of class ``label``: uint8 (num_frames, size, size, 3) RGB."""
    if not 0 <= label < len(SYNTHETIC_CLASSES):
        raise InputError(f"synthetic class must be in 0..{len(SYNTHETIC_CLASSES) - 1}, got {label}")
    shape = _SHAPES[rng.integers(len(_SHAPES))]
    radius = rng.uniform(0.17, 0.22) * size  # half the long side at scale 1
    # fixed polarity: a bright shape on a dark background, so that the sign of a frame
    # difference says where the shape went (not also whether it is darker or brighter)
    background = rng.integers(0, 60, size=3)
    colour = rng.integers(180, 256, size=3)
    noise = rng.normal(0, 4, size=(size, size, 3))
    base = np.clip(background + noise, 0, 255).astype(np.uint8)
    centre, angle, scale = _trajectory(label, np.arange(num_frames), size, radius, rng)
    outline = _outline(shape)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for i in range(num_frames):
        theta = np.deg2rad(angle[i])
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        points = outline @ rotation.T * radius * scale[i] + centre[i]
        frame = base.copy()
        cv2.fillPoly(frame, [np.round(points * 16).astype(np.int32)], colour.tolist(),
                     lineType=cv2.LINE_AA, shift=4)
        frames[i] = frame
    return frames


def _write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPEG video '{path}' (no video writer backend?)")
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[:, :, ::-1]))  # OpenCV wants BGR
    finally:
        writer.release()


def make_synthetic_dataset(root, num_train_per_class: int = 48, num_val_per_class: int = 8,
                           seed: int = 0, *, size: int = 64, num_frames: int = 32,
                           fps: float = 16.0, overwrite: bool = False) -> dict:
    """Render the synthetic motion dataset under ``root`` (about 0.01 s per video).

    Writes ``videos/{train,val}/<class>_<n>.avi``, ``train.txt`` and ``val.txt``
    (``path label``, paths relative to ``root``), ``labels.txt`` (one class name per
    line) and ``manifest.json``. Video ``n`` of a class is the same for a given seed
    whatever the counts, so a larger dataset extends a smaller one.

    Returns ``{"root", "train", "val", "labels"}`` as Paths plus ``"num_classes"``;
    read the lists with ``read_annotations(paths["train"], root=paths["root"])``.
    """
    root = Path(root)
    params = dict(version=_FORMAT_VERSION, num_train_per_class=num_train_per_class,
                  num_val_per_class=num_val_per_class, seed=seed, size=size,
                  num_frames=num_frames, fps=fps)
    paths = {"root": root, "train": root / "train.txt", "val": root / "val.txt",
             "labels": root / "labels.txt", "num_classes": len(SYNTHETIC_CLASSES)}
    manifest = root / _MANIFEST
    if not overwrite and manifest.is_file() and json.loads(manifest.read_text()) == params \
            and all(paths[k].is_file() for k in ("train", "val", "labels")):
        return paths
    if root.is_dir() and not manifest.is_file() and any(root.iterdir()):
        raise InputError(f"{root} holds files that are not a synthetic dataset (no "
                         f"{_MANIFEST}): the synthetic videos and lists are rendered only "
                         "into an empty or new folder, never over other data")
    for split_id, (split, count) in enumerate((("train", num_train_per_class),
                                               ("val", num_val_per_class))):
        folder = root / "videos" / split
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for label, name in enumerate(SYNTHETIC_CLASSES):
            for n in range(count):
                rng = np.random.default_rng([seed, split_id, label, n])
                video = folder / f"{name.replace(' ', '_').replace('-', '_')}_{n:04d}.avi"
                _write_video(video, render_video(label, rng, size, num_frames), fps)
                lines.append(f"{video.relative_to(root).as_posix()} {label}\n")
        # shuffled, so that a list prefix or an unshuffled loader mixes the classes
        order = np.random.default_rng([seed, split_id]).permutation(len(lines))
        paths[split].write_text("".join(lines[i] for i in order), encoding="utf-8")
    paths["labels"].write_text("".join(c + "\n" for c in SYNTHETIC_CLASSES), encoding="utf-8")
    manifest.write_text(json.dumps(params, indent=1))
    return paths

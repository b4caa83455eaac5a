"""Random erasing: VideoMAE `random_erasing.py` (SlowFast) in cube mode, one box for
every frame of a normalised clip."""

from __future__ import annotations

import math

import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.data.transforms.geometry import Box, check_clip


def random_erasing_box(height: int, width: int, rng: np.random.Generator,
                       min_area: float = 0.02, max_area: float = 1 / 3,
                       min_aspect: float = 0.3, attempts: int = 100,
                       count: int = 1) -> Box | None:
    """Box of VideoMAE `RandomErasing._erase_cube` (one box for the clip) or None when
    100 tries find none: area uniform in [min_area, max_area] * H * W / count, log-uniform
    aspect in [min_aspect, 1 / min_aspect], h, w < H, W."""
    area = height * width
    log_aspect = (math.log(min_aspect), math.log(1.0 / min_aspect))
    for _ in range(attempts):
        target_area = rng.uniform(min_area, max_area) * area / count
        aspect_ratio = math.exp(rng.uniform(*log_aspect))
        h = int(round(math.sqrt(target_area * aspect_ratio)))
        w = int(round(math.sqrt(target_area / aspect_ratio)))
        if w < width and h < height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    return None


def random_erasing(clip: np.ndarray, rng: np.random.Generator, prob: float = 0.25,
                   mode: str = "pixel", min_area: float = 0.02, max_area: float = 1 / 3,
                   min_aspect: float = 0.3, max_count: int = 1,
                   min_count: int = 1) -> np.ndarray:
    """Random erasing on a NORMALISED float clip (T, H, W, C), same box in every frame
    (VideoMAE `RandomErasing(cube=True)`); 'pixel' fills with per-pixel N(0, 1) noise
    drawn afresh for each frame (as the official), 'rand' one normal colour per box and
    frame, 'const' zeros. Returns a new array (the input is not modified)."""
    if mode not in ("pixel", "rand", "const"):
        raise InputError(f"mode must be 'pixel', 'rand' or 'const', got {mode!r}")
    clip = check_clip(clip)
    out = np.array(clip, dtype=np.float32 if clip.dtype == np.uint8 else clip.dtype)
    if rng.random() > prob:
        return out
    t_len, height, width, chan = out.shape
    count = min_count if min_count == max_count else int(rng.integers(min_count, max_count + 1))
    for _ in range(count):
        box = random_erasing_box(height, width, rng, min_area, max_area, min_aspect, count=count)
        if box is None:
            continue
        top, left, h, w = box
        if mode == "pixel":
            patch = rng.standard_normal((t_len, h, w, chan), dtype=np.float32)
        elif mode == "rand":
            patch = rng.standard_normal((t_len, 1, 1, chan), dtype=np.float32)
        else:
            patch = np.zeros((t_len, 1, 1, chan), np.float32)
        out[:, top:top + h, left:left + w] = patch
    return out

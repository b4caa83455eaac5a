"""Colour: PIL luma and torchvision's ``ColorJitter`` on uint8 clips."""

from __future__ import annotations

import cv2
import numpy as np


def luma(clip: np.ndarray) -> np.ndarray:
    """PIL convert('L') (ITU-R 601 luma), per frame: (T, H, W) uint8."""
    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in clip])


def color_jitter(clip: np.ndarray, rng: np.random.Generator, brightness: float = 0.5,
                 contrast: float = 0.5, saturation: float = 0.5, hue: float = 0.1) -> np.ndarray:
    """torchvision / mmaction2 ``ColorJitter`` on a uint8 clip, one draw for every frame:
    brightness, contrast and saturation factors uniform in [1 - x, 1 + x], a hue shift
    uniform in [-hue, hue] of a turn, applied in a random order (as torchvision does)."""
    clip = np.asarray(clip, np.uint8)

    def scale(c, f):
        return np.clip(c.astype(np.float32) * f, 0, 255).astype(np.uint8)

    def adjust_contrast(c, f):
        mean = luma(c).reshape(len(c), -1).mean(axis=1)[:, None, None, None]
        return np.clip(mean + f * (c.astype(np.float32) - mean), 0, 255).astype(np.uint8)

    def adjust_saturation(c, f):
        gray = luma(c)[..., None].astype(np.float32)
        return np.clip(gray + f * (c.astype(np.float32) - gray), 0, 255).astype(np.uint8)

    def adjust_hue(c, shift):
        hsv = np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2HSV) for f in c])
        hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + int(round(shift * 180))) % 180)
        return np.stack([cv2.cvtColor(f, cv2.COLOR_HSV2RGB) for f in hsv])

    steps = [(adjust_contrast if i == 1 else adjust_saturation if i == 2
              else adjust_hue if i == 3 else scale, factor)
             for i, factor in enumerate((rng.uniform(1 - brightness, 1 + brightness),
                                         rng.uniform(1 - contrast, 1 + contrast),
                                         rng.uniform(1 - saturation, 1 + saturation),
                                         rng.uniform(-hue, hue)))]
    for index in rng.permutation(len(steps)):
        function, factor = steps[index]
        clip = function(clip, factor)
    return clip

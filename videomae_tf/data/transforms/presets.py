"""The official clip views, composed from the ops: fine-tune training, pretraining and
validation (docs/numerics.md#samplers)."""

from __future__ import annotations

import numpy as np

from videomae_tf.data.transforms.color import color_jitter
from videomae_tf.data.transforms.erasing import random_erasing
from videomae_tf.data.transforms.geometry import (
    center_crop,
    horizontal_flip,
    multi_scale_crop,
    random_resized_crop,
    resize_short_side,
)
from videomae_tf.data.transforms.normalization import normalize
from videomae_tf.data.transforms.randaugment import rand_augment


def finetune_train_transform(clip: np.ndarray, rng: np.random.Generator, size: int = 224,
                             rand_aug: str | None = "rand-m7-n4-mstd0.5-inc1",
                             flip: bool = True, erase_prob: float = 0.25,
                             scale: tuple[float, float] = (0.08, 1.0),
                             ratio: tuple[float, float] = (3 / 4, 4 / 3),
                             jitter: bool = False, erase_max_area: float = 1 / 3) -> np.ndarray:
    """Official fine-tune view (VideoMAE `_aug_frame`): RandAugment -> random resized crop
    -> flip (off for SSV2) -> normalise -> random erasing. uint8 (T, H, W, 3) ->
    float32 (T, size, size, 3). (The official normalises before the crop and resizes
    floats; resizing uint8 first differs by < 1/255 before normalisation and is faster.)
    ``jitter`` adds ``color_jitter`` after the crop (the MA-52 recipe)."""
    if rand_aug:
        clip = rand_augment(clip, rng, rand_aug)
    clip = random_resized_crop(clip, rng, size, scale, ratio)
    if jitter:
        clip = color_jitter(clip, rng)
    if flip:
        clip = horizontal_flip(clip, rng, 0.5)
    out = normalize(clip)
    if erase_prob > 0:
        out = random_erasing(out, rng, prob=erase_prob, mode="pixel", max_area=erase_max_area)
    return out


def pretrain_transform(clip: np.ndarray, rng: np.random.Generator, size: int = 224) -> np.ndarray:
    """Official pretraining view (`DataAugmentationForVideoMAE`): multi-scale crop ->
    normalise (no flip). float32 (T, size, size, 3)."""
    return normalize(multi_scale_crop(clip, rng, size))


def eval_transform(clip: np.ndarray, short_side: int = 224, crop_size: int = 224) -> np.ndarray:
    """Official validation view: short side resize (floor) -> centre crop (round) ->
    normalise. float32 (T, crop_size, crop_size, 3)."""
    return normalize(center_crop(resize_short_side(clip, short_side), crop_size))

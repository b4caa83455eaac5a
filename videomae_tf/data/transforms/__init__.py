"""Clip transforms: numpy/OpenCV ops on uint8 clips (T, H, W, 3) RGB, and batch mixup.

Each piece mirrors the official VideoMAE pipeline (docs/numerics.md#samplers), one module a job:

* ``geometry``: resize, centre / three-crop test views, random resized and multi-scale
  crops, flip (VideoMAE `video_transforms.py`, mmaction2 `Resize` / `ThreeCrop`);
* ``normalization``: ImageNet mean/std (their one definition) and ``normalize``;
* ``color``: PIL luma and ``color_jitter``;
* ``randaugment``: timm RandAugment ops and policy strings;
* ``erasing``: VideoMAE random erasing (cube mode);
* ``mixing``: timm mixup / cutmix and label-smoothed targets (numpy and tf.data);
* ``person_box``: the official MA-52 person crop box;
* ``presets``: the official fine-tune, pretraining and validation views.

Random draws come only from the ``rng: np.random.Generator`` argument, so every transform
is deterministic under a seed. All public names are importable from here.
"""

from videomae_tf.data.transforms.color import color_jitter
from videomae_tf.data.transforms.erasing import random_erasing, random_erasing_box
from videomae_tf.data.transforms.geometry import (
    Box,
    ViewGeometry,
    apply_view,
    center_crop,
    center_crop_box,
    crop,
    fix_crop_offsets,
    horizontal_flip,
    multi_scale_crop,
    multi_scale_crop_box,
    random_resized_crop,
    random_resized_crop_box,
    resize,
    resize_short_side,
    short_side_size,
    view_geometries,
    three_crop,
    three_crop_offsets,
)
from videomae_tf.data.transforms.mixing import (
    cutmix_box,
    mixup_cutmix,
    mixup_cutmix_tf,
    smooth_one_hot,
)
from videomae_tf.data.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD, normalize
from videomae_tf.data.transforms.person_box import person_crop_box
from videomae_tf.data.transforms.presets import (
    eval_transform,
    finetune_train_transform,
    pretrain_transform,
)
from videomae_tf.data.transforms.randaugment import (
    FILL_RGB,
    RAND_INCREASING_OPS,
    RAND_OPS,
    VIDEOMAE_FILL_RGB,
    RandAugmentConfig,
    parse_rand_augment,
    rand_augment,
    rand_augment_plan,
)

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "FILL_RGB", "VIDEOMAE_FILL_RGB",
    "short_side_size", "resize", "resize_short_side", "crop",
    "center_crop_box", "center_crop", "three_crop_offsets", "three_crop",
    "ViewGeometry", "view_geometries", "apply_view",
    "random_resized_crop_box", "random_resized_crop",
    "fix_crop_offsets", "multi_scale_crop_box", "multi_scale_crop",
    "horizontal_flip", "rand_augment", "RAND_INCREASING_OPS",
    "random_erasing_box", "random_erasing", "normalize",
    "smooth_one_hot", "mixup_cutmix", "mixup_cutmix_tf",
    "RandAugmentConfig", "parse_rand_augment", "rand_augment_plan", "RAND_OPS", "cutmix_box",
    "person_crop_box", "color_jitter",
    "finetune_train_transform", "pretrain_transform", "eval_transform",
]

"""Clip geometry: resize, crops (centre, three-crop test views, random resized,
multi-scale) and flip, on (T, H, W, C) clips.

As the official VideoMAE `video_transforms.py` / `transforms.py` (torchvision-style random
resized crop, `GroupMultiScaleCrop`) and mmaction2 (`Resize`, `ThreeCrop`). The box is
computed first, then the clip is cropped once (a numpy view) and each frame resized by
cv2 (a per-frame loop measured 10x faster than one cv2.resize over frames stacked on
channels). Random draws come only from the ``rng`` argument.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import cv2
import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.data import sampling

Box = tuple[int, int, int, int]  # (top, left, height, width)


def check_clip(clip: np.ndarray) -> np.ndarray:
    """``clip`` itself, after checking it is (T, H, W, C)."""
    if clip.ndim != 4:
        raise InputError(f"expected a clip of shape (T, H, W, C), got shape {clip.shape}")
    return clip


def short_side_size(height: int, width: int, size: int = 224,
                    rounding: str = "floor") -> tuple[int, int]:
    """(new_h, new_w) with the short side = ``size``, keeping the ratio.

    ``rounding='floor'``: VideoMAE `get_resize_sizes` (int(size * long / short));
    ``'round'``: mmaction2 `Resize((-1, size))` / mmcv `rescale_size`
    (int(x * scale + 0.5) with scale = size / short).
    """
    if rounding == "floor":
        if width < height:
            return int(size * height / width), size
        return size, int(size * width / height)
    if rounding == "round":
        scale = size / min(height, width)
        return int(height * float(scale) + 0.5), int(width * float(scale) + 0.5)
    raise InputError(f"rounding must be 'floor' (VideoMAE) or 'round' (mmaction2), "
                     f"got {rounding!r}")


def resize(clip: np.ndarray, height: int, width: int,
           interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resize every frame of (T, H, W, C) to (height, width) with cv2 (INTER_LINEAR is
    half-pixel bilinear without antialiasing, as torch `interpolate(align_corners=False)`
    and VideoMAE's cv2-based `resize_clip`)."""
    clip = check_clip(clip)
    if clip.shape[1:3] == (height, width):
        return clip
    out = np.empty((clip.shape[0], height, width, clip.shape[3]), clip.dtype)
    for t, frame in enumerate(clip):
        resized = cv2.resize(frame, (width, height), interpolation=interpolation)
        out[t] = resized.reshape(out.shape[1:])  # cv2 drops a single channel axis
    return out


def resize_short_side(clip: np.ndarray, size: int = 224, rounding: str = "floor",
                      interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Short side to ``size`` (VideoMAE `Resize(size)`; no-op if already that size)."""
    clip = check_clip(clip)
    new_h, new_w = short_side_size(clip.shape[1], clip.shape[2], size, rounding)
    return resize(clip, new_h, new_w, interpolation)


def crop(clip: np.ndarray, box: Box) -> np.ndarray:
    """Crop (T, H, W, C) to ``box = (top, left, height, width)`` (a view, no copy)."""
    top, left, h, w = (int(v) for v in box)
    if top < 0 or left < 0 or top + h > clip.shape[1] or left + w > clip.shape[2]:
        raise InputError(f"crop box {box} (top, left, h, w) exceeds the frame "
                         f"{clip.shape[1]}x{clip.shape[2]}")
    return clip[:, top:top + h, left:left + w]


def center_crop_box(height: int, width: int, crop_size: int | tuple[int, int] = 224,
                    rounding: str = "round") -> Box:
    """Centre crop box. 'round': VideoMAE `CenterCrop` (Python round of (H - h) / 2, i.e.
    half-to-even); 'floor': mmaction2 `CenterCrop` ((H - h) // 2)."""
    ch, cw = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    if ch > height or cw > width:
        raise InputError(f"centre crop {ch}x{cw} is larger than the frame {height}x{width}")
    if rounding == "round":
        return int(round((height - ch) / 2.0)), int(round((width - cw) / 2.0)), ch, cw
    if rounding == "floor":
        return (height - ch) // 2, (width - cw) // 2, ch, cw
    raise InputError(f"rounding must be 'round' (VideoMAE) or 'floor' (mmaction2), "
                     f"got {rounding!r}")


def center_crop(clip: np.ndarray, crop_size: int = 224, rounding: str = "round") -> np.ndarray:
    """Centre crop of a clip (see `center_crop_box`)."""
    clip = check_clip(clip)
    return crop(clip, center_crop_box(clip.shape[1], clip.shape[2], crop_size, rounding))


def three_crop_offsets(height: int, width: int, crop_size: int = 224,
                       order: str = "videomae", num_crops: int = 3) -> list[tuple[int, int]]:
    """(top, left) of the test crops along the long side of a frame whose short side is
    already ``crop_size``.

    'videomae' (official test mode): start_s = int(s * (long - crop) / (num_crops - 1)),
    s = 0, 1, 2 -> left/top, middle, right/bottom; crops along H when H >= W.
    'mmaction2' (`ThreeCrop`): step = (long - crop) // 2; order left, right (2 * step),
    middle (step); crops along W when H == crop.
    """
    if min(height, width) != crop_size:
        raise InputError(f"three-crop testing expects the short side resized to the crop "
                         f"size {crop_size}, got a {height}x{width} frame")
    if order == "videomae":
        step = 1.0 * (max(height, width) - crop_size) / (num_crops - 1) if num_crops > 1 else 0.0
        starts = [int(s * step) for s in range(num_crops)]
        if height >= width:
            return [(s, 0) for s in starts]
        return [(0, s) for s in starts]
    if order == "mmaction2":
        if num_crops != 3:
            raise InputError(f"mmaction2 ThreeCrop makes exactly 3 crops, "
                             f"got num_crops={num_crops}")
        if height == crop_size:
            step = (width - crop_size) // 2
            return [(0, 0), (0, 2 * step), (0, step)]
        step = (height - crop_size) // 2
        return [(0, 0), (2 * step, 0), (step, 0)]
    raise InputError(f"order must be 'videomae' or 'mmaction2', got {order!r}")


def three_crop(clip: np.ndarray, crop_size: int = 224, order: str = "videomae") -> list[np.ndarray]:
    """The three test crops of an already short-side-resized clip."""
    clip = check_clip(clip)
    offsets = three_crop_offsets(clip.shape[1], clip.shape[2], crop_size, order)
    return [crop(clip, (top, left, crop_size, crop_size)) for top, left in offsets]


class ViewGeometry(NamedTuple):
    """One spatio-temporal test view: which frames, the resize, and the crop box."""

    clip_index: int
    crop_index: int
    frame_indices: np.ndarray  # (clip_len,) int64 into the decoded video
    resized_hw: tuple[int, int]  # frames are resized to this before cropping
    box: Box  # (top, left, height, width) in the resized frame


def view_geometries(video_len: int, height: int, width: int, *, num_clips: int = 5,
                    num_crops: int = 3, clip_len: int = 16, frame_sample_rate: int = 4,
                    short_side: int = 224, crop_size: int = 224,
                    convention: str = "videomae") -> list[ViewGeometry]:
    """The K400 5x3 test geometry of a ``video_len``-frame, height x width video, clip outer
    and crop inner (VideoMAE's `test_seg` order); evaluation's ``TestViews`` are the
    settings, these the frames and boxes they give.

    'videomae': `dense_test_indices` clips, floor short-side resize, `three_crop_offsets`
    order left/middle/right. 'mmaction2': `sample_frames(test_mode=True)` clips,
    int(x + 0.5) resize, ThreeCrop order left/right/middle.
    """
    if short_side != crop_size:
        raise InputError(f"official three-crop testing resizes the short side to the crop "
                         f"size; got short_side={short_side}, crop_size={crop_size}")
    if convention == "videomae":
        clips = sampling.dense_test_indices(video_len, clip_len, frame_sample_rate, num_clips)
        resized = short_side_size(height, width, short_side, "floor")
    elif convention == "mmaction2":
        clips = sampling.sample_frames(video_len, clip_len, frame_sample_rate, num_clips,
                                       test_mode=True)
        resized = short_side_size(height, width, short_side, "round")
    else:
        raise InputError(f"convention must be 'videomae' or 'mmaction2', got {convention!r}")
    offsets = three_crop_offsets(*resized, crop_size, convention, num_crops)
    return [ViewGeometry(k, s, clips[k], resized, (top, left, crop_size, crop_size))
            for k in range(len(clips)) for s, (top, left) in enumerate(offsets)]


def apply_view(frames: np.ndarray, view: ViewGeometry,
               interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Cut one view out of ``frames``, the (clip_len, H, W, 3) frames at
    ``view.frame_indices``: resize to ``view.resized_hw`` then crop ``view.box`` (the
    official order; resizing once and cropping the 3 views of a clip is cheaper)."""
    return crop(resize(frames, *view.resized_hw, interpolation=interpolation), view.box)


def random_resized_crop_box(height: int, width: int, rng: np.random.Generator,
                            scale: tuple[float, float] = (0.08, 1.0),
                            ratio: tuple[float, float] = (3 / 4, 4 / 3),
                            attempts: int = 10) -> Box:
    """torchvision `RandomResizedCrop.get_params` (VideoMAE `_get_param_spatial_crop`):
    area uniform in scale, log-uniform aspect ratio, 10 tries, then the centre-crop
    fallback clamped to the ratio range."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(attempts):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect_ratio = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop(clip: np.ndarray, rng: np.random.Generator, size: int = 224,
                        scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3),
                        interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Random resized crop of a whole clip (same box for every frame), crop then resize."""
    clip = check_clip(clip)
    box = random_resized_crop_box(clip.shape[1], clip.shape[2], rng, scale, ratio)
    return resize(crop(clip, box), size, size, interpolation)


def fix_crop_offsets(image_w: int, image_h: int, crop_w: int, crop_h: int,
                     more_fix_crop: bool = True) -> list[tuple[int, int]]:
    """`GroupMultiScaleCrop.fill_fix_offset`: 5 (or 13 with more_fix_crop) (x, y) offsets
    on a quarter grid, in the official order."""
    w_step = (image_w - crop_w) // 4
    h_step = (image_h - crop_h) // 4
    grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)]  # corners, centre
    if more_fix_crop:
        grid += [(0, 2), (4, 2), (2, 4), (2, 0),  # centre left/right, lower/upper centre
                 (1, 1), (3, 1), (1, 3), (3, 3)]  # quarters
    return [(i * w_step, j * h_step) for i, j in grid]


def multi_scale_crop_box(height: int, width: int, rng: np.random.Generator,
                         input_size: int = 224,
                         scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66),
                         max_distort: int = 1, fix_crop: bool = True,
                         more_fix_crop: bool = True) -> Box:
    """`GroupMultiScaleCrop._sample_crop_size`: crop sides int(short * scale) (snapped to
    input_size within 3 px), (w, h) pairs with |i - j| <= max_distort, a fixed offset."""
    crop_sizes = [int(min(width, height) * x) for x in scales]
    crop_h = [input_size if abs(x - input_size) < 3 else x for x in crop_sizes]
    crop_w = [input_size if abs(x - input_size) < 3 else x for x in crop_sizes]
    pairs = [(w, h) for i, h in enumerate(crop_h) for j, w in enumerate(crop_w)
             if abs(i - j) <= max_distort]
    cw, ch = pairs[int(rng.integers(len(pairs)))]
    if fix_crop:
        offsets = fix_crop_offsets(width, height, cw, ch, more_fix_crop)
        x, y = offsets[int(rng.integers(len(offsets)))]
    else:
        x = int(rng.integers(0, width - cw + 1))
        y = int(rng.integers(0, height - ch + 1))
    return y, x, ch, cw


def multi_scale_crop(clip: np.ndarray, rng: np.random.Generator, size: int = 224,
                     scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66),
                     max_distort: int = 1, more_fix_crop: bool = True,
                     interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Pretraining multi-scale crop of a clip, resized to size x size. (The official
    resizes with PIL bilinear, which antialiases when shrinking; pass
    ``interpolation=cv2.INTER_AREA`` to approximate that for large videos.)"""
    clip = check_clip(clip)
    box = multi_scale_crop_box(clip.shape[1], clip.shape[2], rng, size, scales, max_distort,
                               more_fix_crop=more_fix_crop)
    return resize(crop(clip, box), size, size, interpolation)


def horizontal_flip(clip: np.ndarray, rng: np.random.Generator, prob: float = 0.5) -> np.ndarray:
    """Flip the whole clip left-right with probability ``prob`` (VideoMAE
    `horizontal_flip`: one uniform draw per clip). Returns a view when flipped."""
    if rng.random() < prob:
        return clip[:, :, ::-1]
    return clip

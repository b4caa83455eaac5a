"""Clip transforms: numpy/OpenCV ops on uint8 clips (T, H, W, 3) RGB, and batch mixup.

Each transform mirrors one piece of the official VideoMAE pipeline (SPEC section 8):
geometry from VideoMAE `video_transforms.py` / `transforms.py` (torchvision-style random
resized crop, `GroupMultiScaleCrop`) and mmaction2 (`Resize`, `ThreeCrop`), RandAugment
from timm `auto_augment.py` as copied into VideoMAE `rand_augment.py`, random erasing from
VideoMAE's `random_erasing.py` (SlowFast, cube mode), mixup/cutmix from timm `mixup.py`.

Speed: geometry is computed first (a box), then the clip is cropped once (a numpy view) and
each frame of the crop is resized by cv2 (a per-frame loop measured 10x faster than one
cv2.resize over frames stacked on channels); RandAugment ops are cv2 LUTs, cv2 blends or
vectorised numpy over the whole clip, with no per-pixel Python. Random draws come only
from the ``rng: np.random.Generator`` argument, so every transform is deterministic under
a seed.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple, Sequence

import cv2
import numpy as np

from videomae_tf.data import sampling

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# timm's img_mean fill for RandAugment: round(255 * IMAGENET_MEAN) (timm image training).
FILL_RGB = (124, 116, 104)
# VideoMAE's RandAugment fill: its `create_random_augment` passes no img_mean, so the
# SlowFast-derived `rand_augment.py` falls back to _FILL = (128, 128, 128).
VIDEOMAE_FILL_RGB = (128, 128, 128)

Box = tuple[int, int, int, int]  # (top, left, height, width)

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "FILL_RGB", "VIDEOMAE_FILL_RGB",
    "short_side_size", "resize", "resize_short_side", "crop",
    "center_crop_box", "center_crop", "three_crop_offsets", "three_crop",
    "TestView", "test_views", "apply_view",
    "random_resized_crop_box", "random_resized_crop",
    "fix_crop_offsets", "multi_scale_crop_box", "multi_scale_crop",
    "horizontal_flip", "rand_augment", "RAND_INCREASING_OPS",
    "random_erasing_box", "random_erasing", "normalize",
    "smooth_one_hot", "mixup_cutmix", "mixup_cutmix_tf",
    "RandAugmentConfig", "parse_rand_augment", "rand_augment_plan", "RAND_OPS", "cutmix_box",
    "person_crop_box",
    "finetune_train_transform", "pretrain_transform", "eval_transform",
]


# --------------------------------------------------------------------------- geometry

def _check_clip(clip: np.ndarray) -> np.ndarray:
    if clip.ndim != 4:
        raise ValueError(f"expected a clip of shape (T, H, W, C), got shape {clip.shape}")
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
    raise ValueError(f"rounding must be 'floor' (VideoMAE) or 'round' (mmaction2), "
                     f"got {rounding!r}")


def resize(clip: np.ndarray, height: int, width: int,
           interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resize every frame of (T, H, W, C) to (height, width) with cv2 (INTER_LINEAR is
    half-pixel bilinear without antialiasing, as torch `interpolate(align_corners=False)`
    and VideoMAE's cv2-based `resize_clip`)."""
    clip = _check_clip(clip)
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
    clip = _check_clip(clip)
    new_h, new_w = short_side_size(clip.shape[1], clip.shape[2], size, rounding)
    return resize(clip, new_h, new_w, interpolation)


def crop(clip: np.ndarray, box: Box) -> np.ndarray:
    """Crop (T, H, W, C) to ``box = (top, left, height, width)`` (a view, no copy)."""
    top, left, h, w = (int(v) for v in box)
    if top < 0 or left < 0 or top + h > clip.shape[1] or left + w > clip.shape[2]:
        raise ValueError(f"crop box {box} (top, left, h, w) exceeds the frame "
                         f"{clip.shape[1]}x{clip.shape[2]}")
    return clip[:, top:top + h, left:left + w]


def center_crop_box(height: int, width: int, crop_size: int | tuple[int, int] = 224,
                    rounding: str = "round") -> Box:
    """Centre crop box. 'round': VideoMAE `CenterCrop` (Python round of (H - h) / 2, i.e.
    half-to-even); 'floor': mmaction2 `CenterCrop` ((H - h) // 2)."""
    ch, cw = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    if ch > height or cw > width:
        raise ValueError(f"centre crop {ch}x{cw} is larger than the frame {height}x{width}")
    if rounding == "round":
        return int(round((height - ch) / 2.0)), int(round((width - cw) / 2.0)), ch, cw
    if rounding == "floor":
        return (height - ch) // 2, (width - cw) // 2, ch, cw
    raise ValueError(f"rounding must be 'round' (VideoMAE) or 'floor' (mmaction2), "
                     f"got {rounding!r}")


def center_crop(clip: np.ndarray, crop_size: int = 224, rounding: str = "round") -> np.ndarray:
    """Centre crop of a clip (see `center_crop_box`)."""
    clip = _check_clip(clip)
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
        raise ValueError(f"three-crop testing expects the short side resized to the crop "
                         f"size {crop_size}, got a {height}x{width} frame")
    if order == "videomae":
        step = 1.0 * (max(height, width) - crop_size) / (num_crops - 1) if num_crops > 1 else 0.0
        starts = [int(s * step) for s in range(num_crops)]
        if height >= width:
            return [(s, 0) for s in starts]
        return [(0, s) for s in starts]
    if order == "mmaction2":
        if num_crops != 3:
            raise ValueError(f"mmaction2 ThreeCrop makes exactly 3 crops, "
                             f"got num_crops={num_crops}")
        if height == crop_size:
            step = (width - crop_size) // 2
            return [(0, 0), (0, 2 * step), (0, step)]
        step = (height - crop_size) // 2
        return [(0, 0), (2 * step, 0), (step, 0)]
    raise ValueError(f"order must be 'videomae' or 'mmaction2', got {order!r}")


def three_crop(clip: np.ndarray, crop_size: int = 224, order: str = "videomae") -> list[np.ndarray]:
    """The three test crops of an already short-side-resized clip."""
    clip = _check_clip(clip)
    offsets = three_crop_offsets(clip.shape[1], clip.shape[2], crop_size, order)
    return [crop(clip, (top, left, crop_size, crop_size)) for top, left in offsets]


class TestView(NamedTuple):
    """One spatio-temporal test view: which frames, the resize, and the crop box."""
    __test__ = False  # not a pytest test class

    clip_index: int
    crop_index: int
    frame_indices: np.ndarray  # (clip_len,) int64 into the decoded video
    resized_hw: tuple[int, int]  # frames are resized to this before cropping
    box: Box  # (top, left, height, width) in the resized frame


def test_views(num_frames: int, height: int, width: int, *, num_clips: int = 5,
               num_crops: int = 3, clip_len: int = 16, frame_sample_rate: int = 4,
               short_side: int = 224, crop_size: int = 224,
               convention: str = "videomae") -> list[TestView]:
    """The K400 5x3 test geometry, clip outer and crop inner (VideoMAE's `test_seg` order).

    'videomae': `dense_test_indices` clips, floor short-side resize, `three_crop_offsets`
    order left/middle/right. 'mmaction2': `sample_frames(test_mode=True)` clips,
    int(x + 0.5) resize, ThreeCrop order left/right/middle.
    """
    if short_side != crop_size:
        raise ValueError(f"official three-crop testing resizes the short side to the crop "
                         f"size; got short_side={short_side}, crop_size={crop_size}")
    if convention == "videomae":
        clips = sampling.dense_test_indices(num_frames, clip_len, frame_sample_rate, num_clips)
        resized = short_side_size(height, width, short_side, "floor")
    elif convention == "mmaction2":
        clips = sampling.sample_frames(num_frames, clip_len, frame_sample_rate, num_clips,
                                       test_mode=True)
        resized = short_side_size(height, width, short_side, "round")
    else:
        raise ValueError(f"convention must be 'videomae' or 'mmaction2', got {convention!r}")
    offsets = three_crop_offsets(*resized, crop_size, convention, num_crops)
    return [TestView(k, s, clips[k], resized, (top, left, crop_size, crop_size))
            for k in range(len(clips)) for s, (top, left) in enumerate(offsets)]


test_views.__test__ = False  # a library function, not a pytest test


def apply_view(frames: np.ndarray, view: TestView,
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
    clip = _check_clip(clip)
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
    clip = _check_clip(clip)
    box = multi_scale_crop_box(clip.shape[1], clip.shape[2], rng, size, scales, max_distort,
                               more_fix_crop=more_fix_crop)
    return resize(crop(clip, box), size, size, interpolation)


def horizontal_flip(clip: np.ndarray, rng: np.random.Generator, prob: float = 0.5) -> np.ndarray:
    """Flip the whole clip left-right with probability ``prob`` (VideoMAE
    `horizontal_flip`: one uniform draw per clip). Returns a view when flipped."""
    if rng.random() < prob:
        return clip[:, :, ::-1]
    return clip


# --------------------------------------------------------------------------- RandAugment

RAND_INCREASING_OPS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
    "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing",
    "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY",
    "TranslateXRel", "TranslateYRel",
)
RAND_OPS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd",
    "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY",
    "TranslateXRel", "TranslateYRel",
)
_MAX_LEVEL = 10.0


def _apply_lut(clip: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """One 256-entry uint8 LUT for every channel of every frame (cv2.LUT, no copy in)."""
    flat = np.ascontiguousarray(clip).reshape(clip.shape[0] * clip.shape[1], -1)
    return cv2.LUT(flat, np.asarray(lut, np.uint8)).reshape(clip.shape)


def _apply_frame_luts(clip: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """Per-frame, per-channel LUTs: luts (T, 3, 256) uint8."""
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        out[t] = cv2.LUT(np.ascontiguousarray(frame),
                         np.ascontiguousarray(luts[t].T).reshape(1, 256, 3))
    return out


def _blend(degenerate: np.ndarray, image: np.ndarray, factor: float) -> np.ndarray:
    """PIL `Image.blend(degenerate, image, factor)`: deg + factor * (img - deg), clipped and
    truncated to uint8 (the -0.499 offset turns cv2's rounding into PIL's truncation)."""
    shape = image.shape
    a = np.ascontiguousarray(image).reshape(shape[0] * shape[1], -1)
    b = np.ascontiguousarray(degenerate).reshape(shape[0] * shape[1], -1)
    return cv2.addWeighted(a, factor, b, 1.0 - factor, -0.499).reshape(shape)


def _gray(clip: np.ndarray) -> np.ndarray:
    """PIL convert('L') (ITU-R 601 luma), per frame: (T, H, W) uint8."""
    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in clip])


def _pil_affine(clip: np.ndarray, matrix: Sequence[float], fill: Sequence[int],
                interpolation: int) -> np.ndarray:
    """PIL `img.transform(size, AFFINE, (a, b, c, d, e, f), fillcolor=fill)` on every
    frame: output pixel centre (x + .5, y + .5) samples input (a x' + b y' + c,
    d x' + e y' + f) in PIL's corner coordinates (converted to cv2's pixel-centre
    convention). As PIL, a pixel is `fill` exactly when its sample point falls outside
    the frame, and edge taps inside are replicated (cv2's constant border would blend
    the fill into the edge)."""
    a, b, c, d, e, f = matrix
    m = np.array([[a, b, c + 0.5 * (a + b) - 0.5],
                  [d, e, f + 0.5 * (d + e) - 0.5]], dtype=np.float64)
    h, w = clip.shape[1:3]
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    xin = a * xs + b * ys + c
    yin = d * xs + e * ys + f
    outside = (xin < 0) | (xin >= w) | (yin < 0) | (yin >= h)
    flags = interpolation | cv2.WARP_INVERSE_MAP
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        out[t] = cv2.warpAffine(np.ascontiguousarray(frame), m, (w, h), flags=flags,
                                borderMode=cv2.BORDER_REPLICATE)
    out[:, outside] = np.asarray(fill, clip.dtype)
    return out


def _auto_contrast(clip, **_):
    """PIL `ImageOps.autocontrast` per frame and channel (cutoff 0): lo -> 0, hi -> 255
    with the LUT int(i * 255 / (hi - lo) - lo * scale) clamped; flat channels unchanged."""
    t_len = clip.shape[0]
    lo, hi = np.zeros((t_len, 3)), np.zeros((t_len, 3))
    for t in range(t_len):  # cv2.minMaxLoc is ~30x faster than numpy's strided min/max
        for ch, plane in enumerate(cv2.split(np.ascontiguousarray(clip[t]))):
            lo[t, ch], hi[t, ch] = cv2.minMaxLoc(plane)[:2]
    ramp = np.arange(256, dtype=np.float64)
    valid = hi > lo
    scale = np.where(valid, 255.0 / np.where(valid, hi - lo, 1.0), 1.0)
    offset = np.where(valid, -lo * scale, 0.0)
    luts = np.clip(np.trunc(ramp * scale[..., None] + offset[..., None]), 0, 255)
    return _apply_frame_luts(clip, luts.astype(np.uint8))


def _equalize(clip, **_):
    """PIL `ImageOps.equalize` per frame and channel (its integer step/LUT recipe)."""
    t_len = clip.shape[0]
    luts = np.empty((t_len, 3, 256), np.uint8)
    identity = np.arange(256)
    for t in range(t_len):
        frame = np.ascontiguousarray(clip[t])
        for ch in range(3):
            hist = cv2.calcHist([frame], [ch], None, [256], [0, 256]).ravel().astype(np.int64)
            nonzero = hist[hist > 0]
            step = (nonzero.sum() - nonzero[-1]) // 255 if len(nonzero) > 1 else 0
            if step == 0:
                luts[t, ch] = identity
                continue
            cum = np.concatenate(([0], np.cumsum(hist)[:-1]))  # n before adding h[i]
            luts[t, ch] = np.clip((step // 2 + cum) // step, 0, 255)
    return _apply_frame_luts(clip, luts)


def _invert(clip, **_):
    return 255 - clip


def _posterize(clip, bits, **_):
    if bits >= 8:
        return clip
    mask = ~(2 ** (8 - bits) - 1) & 0xFF
    return _apply_lut(clip, np.arange(256) & mask)


def _solarize(clip, thresh, **_):
    ramp = np.arange(256)
    return _apply_lut(clip, np.where(ramp < thresh, ramp, 255 - ramp))


def _solarize_add(clip, add, thresh=128, **_):
    ramp = np.arange(256)
    return _apply_lut(clip, np.where(ramp < thresh, np.minimum(255, ramp + add), ramp))


def _color(clip, factor, **_):
    """PIL `ImageEnhance.Color`: blend with the grey version of the frame."""
    gray = _gray(clip)
    return _blend(np.repeat(gray[..., None], 3, axis=-1), clip, factor)


def _contrast(clip, factor, **_):
    """PIL `ImageEnhance.Contrast`: blend with a constant frame of the mean luma
    (int(mean + 0.5), per frame)."""
    means = np.floor(_gray(clip).mean(axis=(1, 2)) + 0.5)
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        frame = np.ascontiguousarray(frame)
        out[t] = cv2.addWeighted(frame, factor, frame, 0.0, means[t] * (1.0 - factor) - 0.499)
    return out


def _brightness(clip, factor, **_):
    """PIL `ImageEnhance.Brightness`: blend with black."""
    return _blend(np.zeros_like(clip), clip, factor)


_SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0


def _sharpness(clip, factor, **_):
    """PIL `ImageEnhance.Sharpness`: blend with the SMOOTH-filtered frame, whose border
    pixels PIL leaves unfiltered. Frames are stacked along H for one cv2.filter2D call;
    rows that would mix frames are exactly the per-frame borders restored below."""
    t_len, h, w, c = clip.shape
    stacked = np.ascontiguousarray(clip).reshape(t_len * h, w, c)
    smooth = cv2.filter2D(stacked, -1, _SMOOTH, borderType=cv2.BORDER_REPLICATE)
    smooth = smooth.reshape(clip.shape)
    smooth[:, 0], smooth[:, -1] = clip[:, 0], clip[:, -1]
    smooth[:, :, 0], smooth[:, :, -1] = clip[:, :, 0], clip[:, :, -1]
    return _blend(smooth, clip, factor)


def _rotate(clip, degrees, fill, interpolation, **_):
    """PIL `img.rotate(degrees)` about the frame centre (counter-clockwise)."""
    h, w = clip.shape[1:3]
    angle = -math.radians(degrees)
    a, b = round(math.cos(angle), 15), round(math.sin(angle), 15)
    d, e = round(-math.sin(angle), 15), round(math.cos(angle), 15)
    cx, cy = w / 2.0, h / 2.0
    c = a * -cx + b * -cy + cx
    f = d * -cx + e * -cy + cy
    return _pil_affine(clip, (a, b, c, d, e, f), fill, interpolation)


def _shear_x(clip, factor, fill, interpolation, **_):
    return _pil_affine(clip, (1, factor, 0, 0, 1, 0), fill, interpolation)


def _shear_y(clip, factor, fill, interpolation, **_):
    return _pil_affine(clip, (1, 0, 0, factor, 1, 0), fill, interpolation)


def _translate_x_rel(clip, pct, fill, interpolation, **_):
    return _pil_affine(clip, (1, 0, pct * clip.shape[2], 0, 1, 0), fill, interpolation)


def _translate_y_rel(clip, pct, fill, interpolation, **_):
    return _pil_affine(clip, (1, 0, 0, 0, 1, pct * clip.shape[1]), fill, interpolation)


def _negate(value: float, rng: np.random.Generator) -> float:
    """timm `_randomly_negate`: -v if random() > 0.5."""
    return -value if rng.random() > 0.5 else value


def _enhance_increasing(level, rng):
    return (1.0 + _negate(level / _MAX_LEVEL * 0.9, rng),)


_LEVEL_TO_ARG = {  # timm / SlowFast `LEVEL_TO_ARG` for the ops used above
    "AutoContrast": lambda level, rng: (),
    "Equalize": lambda level, rng: (),
    "Invert": lambda level, rng: (),
    "Rotate": lambda level, rng: (_negate(level / _MAX_LEVEL * 30.0, rng),),
    "Posterize": lambda level, rng: (int(level / _MAX_LEVEL * 4),),
    "PosterizeIncreasing": lambda level, rng: (4 - int(level / _MAX_LEVEL * 4),),
    "Solarize": lambda level, rng: (int(level / _MAX_LEVEL * 256),),
    "SolarizeIncreasing": lambda level, rng: (256 - int(level / _MAX_LEVEL * 256),),
    "SolarizeAdd": lambda level, rng: (int(level / _MAX_LEVEL * 110),),
    "Color": lambda level, rng: (level / _MAX_LEVEL * 1.8 + 0.1,),
    "ColorIncreasing": _enhance_increasing,
    "Contrast": lambda level, rng: (level / _MAX_LEVEL * 1.8 + 0.1,),
    "ContrastIncreasing": _enhance_increasing,
    "Brightness": lambda level, rng: (level / _MAX_LEVEL * 1.8 + 0.1,),
    "BrightnessIncreasing": _enhance_increasing,
    "Sharpness": lambda level, rng: (level / _MAX_LEVEL * 1.8 + 0.1,),
    "SharpnessIncreasing": _enhance_increasing,
    "ShearX": lambda level, rng: (_negate(level / _MAX_LEVEL * 0.3, rng),),
    "ShearY": lambda level, rng: (_negate(level / _MAX_LEVEL * 0.3, rng),),
    "TranslateXRel": lambda level, rng: (_negate(level / _MAX_LEVEL * 0.45, rng),),
    "TranslateYRel": lambda level, rng: (_negate(level / _MAX_LEVEL * 0.45, rng),),
}

_NAME_TO_OP = {
    "AutoContrast": _auto_contrast, "Equalize": _equalize, "Invert": _invert,
    "Rotate": _rotate, "Posterize": _posterize, "PosterizeIncreasing": _posterize,
    "Solarize": _solarize, "SolarizeIncreasing": _solarize, "SolarizeAdd": _solarize_add,
    "Color": _color, "ColorIncreasing": _color, "Contrast": _contrast,
    "ContrastIncreasing": _contrast, "Brightness": _brightness,
    "BrightnessIncreasing": _brightness, "Sharpness": _sharpness,
    "SharpnessIncreasing": _sharpness, "ShearX": _shear_x, "ShearY": _shear_y,
    "TranslateXRel": _translate_x_rel, "TranslateYRel": _translate_y_rel,
}


class RandAugmentConfig(NamedTuple):
    """Parsed 'rand-m7-n4-mstd0.5-inc1' (timm `rand_augment_transform` keys)."""
    magnitude: float = 10.0
    num_layers: int = 2
    magnitude_std: float = 0.0
    ops: tuple[str, ...] = RAND_OPS
    prob: float = 0.5


def parse_rand_augment(config: str) -> RandAugmentConfig:
    """Parse a timm RandAugment string: m (magnitude), n (ops per clip), mstd (magnitude
    noise), inc (increasing op set), p (op probability, newer timm). 'inc0' selects the
    plain ops (the SlowFast/VideoMAE copy tests bool('0'), which is True — a bug)."""
    parts = config.split("-")
    if parts[0] != "rand":
        raise ValueError(f"RandAugment config must start with 'rand', got {config!r}")
    cfg = RandAugmentConfig()
    for part in parts[1:]:
        key, val = (re.split(r"(\d.*)", part) + ["", ""])[:2]
        if not val:
            continue
        if key == "m":
            cfg = cfg._replace(magnitude=float(val))
        elif key == "n":
            cfg = cfg._replace(num_layers=int(val))
        elif key == "mstd":
            cfg = cfg._replace(magnitude_std=float(val))
        elif key == "inc":
            cfg = cfg._replace(ops=RAND_INCREASING_OPS if int(val) else RAND_OPS)
        elif key == "p":
            cfg = cfg._replace(prob=float(val))
        else:
            raise ValueError(f"unsupported RandAugment key {key!r} in {config!r}")
    return cfg


def rand_augment_plan(rng: np.random.Generator,
                      config: str = "rand-m7-n4-mstd0.5-inc1") -> list[tuple[str, tuple]]:
    """Draw the clip's RandAugment ops and arguments, in timm's draw order: N ops with
    replacement; per op `random() > p` skips it, else magnitude gauss(M, std) clipped to
    [0, 10], then the op's random sign. Returns [(op_name, args), ...] of applied ops."""
    cfg = parse_rand_augment(config)
    chosen = rng.choice(len(cfg.ops), cfg.num_layers, replace=True)
    plan = []
    for i in chosen:
        name = cfg.ops[int(i)]
        if cfg.prob < 1.0 and rng.random() > cfg.prob:
            continue
        magnitude = cfg.magnitude
        if cfg.magnitude_std > 0:
            magnitude = rng.normal(magnitude, cfg.magnitude_std)
        magnitude = min(_MAX_LEVEL, max(0.0, magnitude))
        plan.append((name, _LEVEL_TO_ARG[name](magnitude, rng)))
    return plan


def rand_augment(clip: np.ndarray, rng: np.random.Generator,
                 config: str = "rand-m7-n4-mstd0.5-inc1",
                 fill: tuple[int, int, int] = VIDEOMAE_FILL_RGB,
                 interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
    """timm RandAugment on a uint8 clip, the SAME ops and magnitudes for every frame
    (VideoMAE draws once per clip and maps the op over the frame list).

    Config 'rand-m{M}-n{N}-mstd{S}-inc{0|1}[-p{P}]': N ops drawn with replacement; each
    applied with prob 0.5 at magnitude gauss(M, S) clipped to [0, 10], random sign where
    timm negates. Per-frame statistics (autocontrast, equalize, contrast mean) are computed
    per frame, as the official per-image application does. ``fill`` defaults to VideoMAE's
    (128, 128, 128); timm image training uses FILL_RGB. Geometric ops use cv2 bicubic
    (a = -0.75) where PIL uses a = -0.5: pixel values differ slightly, geometry matches.
    """
    clip = _check_clip(clip)
    if clip.dtype != np.uint8:
        raise ValueError(f"rand_augment works on uint8 clips, got {clip.dtype}")
    for name, args in rand_augment_plan(rng, config):
        clip = _NAME_TO_OP[name](clip, *args, fill=fill, interpolation=interpolation)
    return clip


# --------------------------------------------------------------------------- erasing, normalise

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
        raise ValueError(f"mode must be 'pixel', 'rand' or 'const', got {mode!r}")
    clip = _check_clip(clip)
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


def normalize(clip: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
              std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """uint8 [0, 255] -> float32 (x / 255 - mean) / std.

    uint8 3-channel clips go through a float32 per-channel cv2.LUT built in float64, which
    is bit-identical to the direct numpy formula and ~3x faster; other dtypes use numpy."""
    mean64, std64 = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    if clip.dtype == np.uint8 and clip.ndim == 4 and clip.shape[-1] == len(mean64) <= 4:
        lut = ((np.arange(256, dtype=np.float64)[:, None] / 255.0 - mean64) / std64)
        lut = lut.astype(np.float32).reshape(1, 256, -1)
        flat = np.ascontiguousarray(clip)
        t_len, h, w, c = flat.shape
        return cv2.LUT(flat.reshape(t_len * h, w, c), lut).reshape(flat.shape)
    return ((np.asarray(clip, np.float64) / 255.0 - mean64) / std64).astype(np.float32)


# --------------------------------------------------------------------------- mixup / cutmix

def smooth_one_hot(labels: np.ndarray, num_classes: int, smoothing: float = 0.1) -> np.ndarray:
    """timm `one_hot` with off = smoothing / C, on = 1 - smoothing + off. float32 (B, C)."""
    labels = np.asarray(labels, np.int64).reshape(-1)
    off = smoothing / num_classes
    out = np.full((labels.shape[0], num_classes), off, np.float32)
    out[np.arange(labels.shape[0]), labels] = 1.0 - smoothing + off
    return out


def _mix_params(rng: np.random.Generator, mixup_alpha: float, cutmix_alpha: float,
                prob: float, switch_prob: float) -> tuple[float, bool]:
    """timm `Mixup._params_per_batch`: (lam, use_cutmix)."""
    lam, use_cutmix = 1.0, False
    if rng.random() < prob:
        if mixup_alpha > 0.0 and cutmix_alpha > 0.0:
            use_cutmix = bool(rng.random() < switch_prob)
            alpha = cutmix_alpha if use_cutmix else mixup_alpha
            lam = float(rng.beta(alpha, alpha))
        elif mixup_alpha > 0.0:
            lam = float(rng.beta(mixup_alpha, mixup_alpha))
        elif cutmix_alpha > 0.0:
            use_cutmix = True
            lam = float(rng.beta(cutmix_alpha, cutmix_alpha))
        else:
            raise ValueError("mixup_alpha or cutmix_alpha must be > 0")
    return lam, use_cutmix


def cutmix_box(height: int, width: int, lam: float, rng: np.random.Generator,
               correct_lam: bool = True) -> tuple[tuple[int, int, int, int], float]:
    """timm `rand_bbox` + `cutmix_bbox_and_lam`: a box of side sqrt(1 - lam) * (H, W)
    around a uniform centre, clipped to the frame; lam := 1 - box area / (H W).
    Returns ((y_lo, y_hi, x_lo, x_hi), lam)."""
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy = int(rng.integers(0, height))
    cx = int(rng.integers(0, width))
    yl, yh = int(np.clip(cy - cut_h // 2, 0, height)), int(np.clip(cy + cut_h // 2, 0, height))
    xl, xh = int(np.clip(cx - cut_w // 2, 0, width)), int(np.clip(cx + cut_w // 2, 0, width))
    if correct_lam:
        lam = 1.0 - (yh - yl) * (xh - xl) / float(height * width)
    return (yl, yh, xl, xh), lam


def mixup_cutmix(clips: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                 num_classes: int, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0,
                 prob: float = 1.0, switch_prob: float = 0.5, label_smoothing: float = 0.1,
                 correct_lam: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """timm `Mixup` in mode 'batch' on clips (B, T, H, W, C) and int labels (B,).

    Pairs sample b with b' = B - 1 - b (the flipped batch). Cutmix pastes the same box in
    every frame, lam corrected to the box area. (VideoMAE's copy of timm indexes
    x[:, :, yl:yh, xl:xh] on (B, C, T, H, W), i.e. slices T and H instead of H and W; we
    implement the intended spatial box.) Returns (float32 clips, soft labels (B, C))."""
    clips = np.asarray(clips)
    if clips.ndim != 5:
        raise ValueError(f"mixup_cutmix expects clips (B, T, H, W, C), got shape {clips.shape}")
    if clips.shape[0] % 2:
        raise ValueError(f"mixup/cutmix needs an even batch size, got {clips.shape[0]}")
    out = clips.astype(np.float32, copy=True)
    lam, use_cutmix = _mix_params(rng, mixup_alpha, cutmix_alpha, prob, switch_prob)
    if lam != 1.0:
        if use_cutmix:
            (yl, yh, xl, xh), lam = cutmix_box(out.shape[2], out.shape[3], lam, rng, correct_lam)
            out[:, :, yl:yh, xl:xh] = out[::-1, :, yl:yh, xl:xh].copy()
        else:
            out = out * np.float32(lam) + out[::-1] * np.float32(1.0 - lam)
    y1 = smooth_one_hot(labels, num_classes, label_smoothing)
    targets = y1 * np.float32(lam) + y1[::-1] * np.float32(1.0 - lam)
    return out, targets


def mixup_cutmix_tf(clips, labels, seed, num_classes: int, mixup_alpha: float = 0.8,
                    cutmix_alpha: float = 1.0, prob: float = 1.0, switch_prob: float = 0.5,
                    label_smoothing: float = 0.1):
    """Pure-TF `mixup_cutmix` for batched tensors inside tf.data (stateless randomness).

    ``seed``: int tensor of shape (2,), e.g. tf.stack([base, batch_index]) from
    `Dataset.enumerate()`. Batch size may be dynamic. Both branches are computed and
    selected with tf.where, so the graph is XLA-friendly. Returns (clips float32, soft
    labels float32 (B, C))."""
    import tensorflow as tf

    if mixup_alpha <= 0.0 and cutmix_alpha <= 0.0:
        raise ValueError("mixup_alpha or cutmix_alpha must be > 0")
    x = tf.cast(clips, tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=7)
    do_mix = tf.random.stateless_uniform([], seeds[0]) < prob
    if mixup_alpha > 0.0 and cutmix_alpha > 0.0:
        use_cutmix = tf.random.stateless_uniform([], seeds[1]) < switch_prob
    else:
        use_cutmix = tf.constant(cutmix_alpha > 0.0)
    alpha = tf.where(use_cutmix, float(cutmix_alpha), float(mixup_alpha))
    g1 = tf.random.stateless_gamma([], seeds[2], alpha=alpha)
    g2 = tf.random.stateless_gamma([], seeds[3], alpha=alpha)
    lam = tf.where(do_mix, g1 / (g1 + g2), 1.0)

    height, width = tf.shape(x)[2], tf.shape(x)[3]
    ratio = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.cast(height, tf.float32) * ratio, tf.int32)
    cut_w = tf.cast(tf.cast(width, tf.float32) * ratio, tf.int32)
    cy = tf.random.stateless_uniform([], seeds[4], 0, height, dtype=tf.int32)
    cx = tf.random.stateless_uniform([], seeds[5], 0, width, dtype=tf.int32)
    yl = tf.clip_by_value(cy - cut_h // 2, 0, height)
    yh = tf.clip_by_value(cy + cut_h // 2, 0, height)
    xl = tf.clip_by_value(cx - cut_w // 2, 0, width)
    xh = tf.clip_by_value(cx + cut_w // 2, 0, width)
    rows = tf.range(height)
    cols = tf.range(width)
    in_box = (((rows >= yl) & (rows < yh))[:, None] & ((cols >= xl) & (cols < xh))[None, :])
    in_box = in_box[None, None, :, :, None]
    area = tf.cast((yh - yl) * (xh - xl), tf.float32)
    lam_cut = 1.0 - area / tf.cast(height * width, tf.float32)

    x_flip = tf.reverse(x, axis=[0])
    mixed = tf.where(use_cutmix, tf.where(in_box, x_flip, x), x * lam + x_flip * (1.0 - lam))
    lam = tf.where(use_cutmix, lam_cut, lam)
    off = label_smoothing / num_classes
    y1 = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), num_classes,
                    on_value=1.0 - label_smoothing + off, off_value=off)
    targets = y1 * lam + tf.reverse(y1, axis=[0]) * (1.0 - lam)
    return mixed, targets


# --------------------------------------------------------------------------- MA-52

def person_crop_box(boxes: np.ndarray, image_h: int, image_w: int,
                    pad: tuple[int, int, int, int] = (60, 100, 80, 60),
                    min_aspect: float = 0.6) -> tuple[int, int, int, int]:
    """MA-52 person crop (SPEC 9), as the MAC 2024 `determine_crop_region`.

    Union of the (x1, y1, x2, y2) person boxes of all frames, padded (left, top, right,
    bottom), clipped to [0, W - 1] x [0, H - 1]; if width / height < min_aspect, widened
    once on both sides by int((h * min_aspect - w) / 2), clipped again (so a box at the
    frame edge may stay narrower, as in the official). No boxes: the whole frame.
    Returns (x1, y1, x2, y2); crop with frame[y1:y2, x1:x2].
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return 0, 0, int(image_w), int(image_h)
    left, top, right, bottom = pad
    x1 = max(0, int(boxes[:, 0].min()) - left)
    y1 = max(0, int(boxes[:, 1].min()) - top)
    x2 = min(image_w - 1, int(boxes[:, 2].max()) + right)
    y2 = min(image_h - 1, int(boxes[:, 3].max()) + bottom)
    w, h = x2 - x1, y2 - y1
    if h > 0 and w / h < min_aspect:
        widen = int((h * min_aspect - w) / 2)
        x1 = max(0, x1 - widen)
        x2 = min(image_w - 1, x2 + widen)
    return x1, y1, x2, y2


# --------------------------------------------------------------------------- composites

def color_jitter(clip: np.ndarray, rng: np.random.Generator, brightness: float = 0.5,
                 contrast: float = 0.5, saturation: float = 0.5, hue: float = 0.1) -> np.ndarray:
    """torchvision / mmaction2 ``ColorJitter`` on a uint8 clip, one draw for every frame:
    brightness, contrast and saturation factors uniform in [1 - x, 1 + x], a hue shift
    uniform in [-hue, hue] of a turn, applied in a random order (as torchvision does)."""
    clip = np.asarray(clip, np.uint8)

    def scale(c, f):
        return np.clip(c.astype(np.float32) * f, 0, 255).astype(np.uint8)

    def adjust_contrast(c, f):
        mean = _gray(c).reshape(len(c), -1).mean(axis=1)[:, None, None, None]
        return np.clip(mean + f * (c.astype(np.float32) - mean), 0, 255).astype(np.uint8)

    def adjust_saturation(c, f):
        gray = _gray(c)[..., None].astype(np.float32)
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

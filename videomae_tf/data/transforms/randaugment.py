"""RandAugment: timm `auto_augment.py` (as copied into VideoMAE `rand_augment.py`) on
uint8 clips, the same ops and magnitudes for every frame; policy strings parsed as timm.

Ops are cv2 LUTs, cv2 blends or vectorised numpy over the whole clip, matching PIL's
arithmetic (truncation, per-frame statistics, fill outside the frame).
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple, Sequence

import cv2
import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.data.transforms.color import luma
from videomae_tf.data.transforms.geometry import check_clip

# timm's img_mean fill for RandAugment: round(255 * IMAGENET_MEAN) (timm image training).
FILL_RGB = (124, 116, 104)
# VideoMAE's RandAugment fill: its `create_random_augment` passes no img_mean, so the
# SlowFast-derived `rand_augment.py` falls back to _FILL = (128, 128, 128).
VIDEOMAE_FILL_RGB = (128, 128, 128)

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
    gray = luma(clip)
    return _blend(np.repeat(gray[..., None], 3, axis=-1), clip, factor)


def _contrast(clip, factor, **_):
    """PIL `ImageEnhance.Contrast`: blend with a constant frame of the mean luma
    (int(mean + 0.5), per frame)."""
    means = np.floor(luma(clip).mean(axis=(1, 2)) + 0.5)
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
        raise InputError(f"RandAugment config must start with 'rand', got {config!r}")
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
            raise InputError(f"unsupported RandAugment key {key!r} in {config!r}")
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
    clip = check_clip(clip)
    if clip.dtype != np.uint8:
        raise InputError(f"rand_augment works on uint8 clips, got {clip.dtype}")
    for name, args in rand_augment_plan(rng, config):
        clip = _NAME_TO_OP[name](clip, *args, fill=fill, interpolation=interpolation)
    return clip

"""Mixup / cutmix on batches of clips (timm `mixup.py`, mode 'batch') and the
label-smoothed one-hot targets, in numpy and in pure TF for tf.data."""

from __future__ import annotations

import math

import numpy as np

from videomae_tf.errors import InputError


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
            raise InputError("mixup_alpha or cutmix_alpha must be > 0")
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
        raise InputError(f"mixup_cutmix expects clips (B, T, H, W, C), got shape {clips.shape}")
    if clips.shape[0] % 2:
        raise InputError(f"mixup/cutmix needs an even batch size, got {clips.shape[0]}")
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
        raise InputError("mixup_alpha or cutmix_alpha must be > 0")
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

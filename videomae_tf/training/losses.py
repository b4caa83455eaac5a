"""Classification losses of the official fine-tuning, per example (the engine reduces).

The official criterion: soft-target cross entropy when mixup/cutmix is on (the smoothing
is already in the mixed targets), label-smoothed cross entropy (0.1) otherwise. Below
them, the MA-52 losses (docs/numerics.md#ma52): combined F1, CE+F1, the frame-assisting "double" and the
fine-and-coarse combination, on a ``MicroActionModel``'s output dict.
"""

from __future__ import annotations

from keras import ops

from videomae_tf.errors import InputError


def at_least_float32(x):
    """``x`` in float32 if it is a 16-bit float (mixed precision), else unchanged (float64
    stays float64)."""
    return ops.cast(x, "float32") if "16" in str(ops.dtype(x)) else x


def soft_target_cross_entropy(targets, logits, smoothing: float = 0.0):
    """timm ``SoftTargetCrossEntropy``: sum_c -target_c * log_softmax(logits)_c, per example;
    ``smoothing`` first turns the targets into (1 - s) * y + s / C (what timm's
    ``LabelSmoothingCrossEntropy`` does to one-hot ones)."""
    logp = ops.log_softmax(at_least_float32(logits), axis=-1)
    targets = ops.cast(targets, logp.dtype)
    if smoothing:
        targets = (1.0 - smoothing) * targets + smoothing / logp.shape[-1]
    return -ops.sum(targets * logp, axis=-1)


def label_smoothing_cross_entropy(labels, logits, smoothing=0.1):
    """timm ``LabelSmoothingCrossEntropy``: (1 - s) * nll + s * mean_c(-log p_c), per example.

    ``smoothing=0`` is plain cross entropy.
    """
    logp = ops.log_softmax(at_least_float32(logits), axis=-1)
    labels = ops.cast(labels, "int32")
    nll = -ops.squeeze(ops.take_along_axis(logp, labels[:, None], axis=-1), axis=-1)
    if not smoothing:
        return nll
    return (1.0 - smoothing) * nll + smoothing * -ops.mean(logp, axis=-1)


def classification_loss(labels, logits, smoothing=0.1):
    """Soft targets (B, C) -> soft-target CE; integer labels (B,) -> label-smoothed CE."""
    if len(labels.shape) == 2:
        return soft_target_cross_entropy(labels, logits)
    return label_smoothing_cross_entropy(labels, logits, smoothing)


# --- MA-52 (docs/numerics.md#ma52; the MAC 2024 winning solution's losses) -----------


def target_distribution(labels, num_classes: int):
    """Integer labels (B,) -> one-hot (B, C) float32; soft labels (B, C) stay as they are."""
    if len(labels.shape) == 2:
        return ops.cast(labels, "float32")
    return ops.one_hot(ops.cast(labels, "int32"), num_classes, dtype="float32")


def combined_f1_loss(targets, logits, eps: float = 1e-7):
    """(1 - macro F1) + (1 - micro F1) of the softmax probabilities over the batch: soft
    tp = sum p*y, fp = sum p*(1-y), fn = sum (1-p)*y per class, F1 from precision and
    recall with ``eps`` (the solution's ``CombinedF1Loss``). A scalar."""
    p = ops.softmax(at_least_float32(logits), axis=-1)
    y = ops.cast(targets, p.dtype)
    tp, fp, fn = ops.sum(p * y, axis=0), ops.sum(p * (1 - y), axis=0), ops.sum((1 - p) * y, axis=0)

    def f1(tp, fp, fn):
        precision, recall = tp / (tp + fp + eps), tp / (tp + fn + eps)
        return 2 * precision * recall / (precision + recall + eps)

    macro = ops.mean(f1(tp, fp, fn))
    micro = f1(ops.sum(tp), ops.sum(fp), ops.sum(fn))
    return (1.0 - macro) + (1.0 - micro)


def ce_f1_loss(targets, logits, smoothing: float = 0.0):
    """CE+F1 per example: each example's cross entropy plus the batch's combined F1 loss
    (the same for every example, so the batch mean is CE mean + F1 loss)."""
    ce = soft_target_cross_entropy(targets, logits, smoothing)
    return ce + ops.cast(combined_f1_loss(targets, logits), ce.dtype)


def frame_ce_f1_loss(targets, frame_logits, smoothing: float = 0.0):
    """CE+F1 of per-frame logits (B, T', C), the clip's target repeated over T' (the
    solution flattens to B * T' rows); per example: the mean over its frames."""
    frames, classes = frame_logits.shape[1], frame_logits.shape[2]
    flat_logits = ops.reshape(frame_logits, (-1, classes))
    flat_targets = ops.reshape(ops.repeat(targets[:, None, :], frames, axis=1), (-1, classes))
    per_row = soft_target_cross_entropy(flat_targets, flat_logits, smoothing)
    per_example = ops.mean(ops.reshape(per_row, (-1, frames)), axis=1)
    return per_example + ops.cast(combined_f1_loss(flat_targets, flat_logits), per_example.dtype)


def arcface_logits(logits, targets, scale: float, margin: float):
    """Standard ArcFace in training: ``logits`` = s * cos(theta) of an ``ArcFace`` layer;
    the target class's becomes s * cos(theta + m) (soft targets weight the change)."""
    cosine = ops.clip(at_least_float32(logits) / scale, -1.0 + 1e-7, 1.0 - 1e-7)
    with_margin = ops.cos(ops.arccos(cosine) + margin)
    targets = ops.cast(targets, cosine.dtype)
    return scale * (cosine + targets * (with_margin - cosine))


#: MA-52 loss names -> what they add up (docs/numerics.md#ma52).
MICRO_ACTION_LOSSES = ("ce", "ce_f1", "double", "fine_a_coarse_double")


def micro_action_loss(kind: str, *, num_classes: int = 52, smoothing: float = 0.0,
                      arcface: str | None = None, arcface_scale: float = 30.0,
                      arcface_margin: float = 0.5):
    """``loss_fn(labels, outputs) -> per-example loss`` for a ``MicroActionModel``'s dict:

    * "ce": cross entropy of ``logits``; "ce_f1": CE + combined F1;
    * "double": CE+F1(logits) + 0.5 * CE+F1(frame_logits, the label on every frame);
    * "fine_a_coarse_double": double(fine) + 0.5 * double(coarse), the coarse targets
      from the fine ones through the MA-52 table.

    ``arcface="target"`` applies the margin to the target class of ``logits`` and
    ``coarse_logits`` (the model's ArcFace layers return s * cos(theta)).
    """
    if kind not in MICRO_ACTION_LOSSES:
        raise InputError(f"unknown MA-52 loss {kind!r}; known: {', '.join(MICRO_ACTION_LOSSES)}")
    from videomae_tf.data.ma52 import coarse_matrix

    to_coarse = coarse_matrix()

    def main_logits(logits, targets):
        if arcface == "target":
            return arcface_logits(logits, targets, arcface_scale, arcface_margin)
        return logits

    def double(targets, logits, frame_logits):
        loss = ce_f1_loss(targets, main_logits(logits, targets), smoothing)
        return loss + 0.5 * frame_ce_f1_loss(targets, frame_logits, smoothing)

    def loss_fn(labels, outputs):
        if not isinstance(outputs, dict):
            raise TypeError("the MA-52 losses take a MicroActionModel's output dict")
        targets = target_distribution(labels, num_classes)
        logits = main_logits(outputs["logits"], targets)
        if kind == "ce":
            return soft_target_cross_entropy(targets, logits, smoothing)
        if kind == "ce_f1":
            return ce_f1_loss(targets, logits, smoothing)
        needed = ["frame_logits"] + (["coarse_logits", "coarse_frame_logits"]
                                     if kind == "fine_a_coarse_double" else [])
        missing = [name for name in needed if name not in outputs]
        if missing:
            # ValueError, not InputError: raised while TensorFlow traces (autograph re-raises
            # only built-in exception types)
            raise ValueError(f"loss {kind!r} needs the model outputs {missing}: build the "
                             "model with frame_assist=True (and coarse_assist=True)")
        fine = double(targets, outputs["logits"], outputs["frame_logits"])
        if kind == "double":
            return fine
        coarse_targets = ops.matmul(targets, ops.convert_to_tensor(to_coarse))
        coarse = double(coarse_targets, outputs["coarse_logits"], outputs["coarse_frame_logits"])
        return fine + 0.5 * coarse

    return loss_fn

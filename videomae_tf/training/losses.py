"""Classification losses of the official fine-tuning, per example (the engine reduces).

The official criterion: soft-target cross entropy when mixup/cutmix is on (the smoothing
is already in the mixed targets), label-smoothed cross entropy (0.1) otherwise.
"""

from keras import ops


def at_least_float32(x):
    """``x`` in float32 if it is a 16-bit float (mixed precision), else unchanged (float64
    stays float64)."""
    return ops.cast(x, "float32") if "16" in str(ops.dtype(x)) else x


def soft_target_cross_entropy(targets, logits):
    """timm ``SoftTargetCrossEntropy``: sum_c -target_c * log_softmax(logits)_c, per example."""
    logp = ops.log_softmax(at_least_float32(logits), axis=-1)
    return -ops.sum(ops.cast(targets, logp.dtype) * logp, axis=-1)


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

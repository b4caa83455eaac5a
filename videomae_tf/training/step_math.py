"""What every backend's training step computes the same way, in ``keras.ops``."""

from keras import ops

from videomae_tf.training.losses import (
    at_least_float32,
    label_smoothing_cross_entropy,
    soft_target_cross_entropy,
)


def split_batch(batch):
    """(model inputs, loss targets): a (clip, label) batch, or a dict batch (the
    pretraining pipeline's) that is both the model's input and the loss's target."""
    if isinstance(batch, dict):
        return batch, batch
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        # ValueError, not InputError: raised while TensorFlow traces (autograph re-raises
        # only built-in exception types)
        raise ValueError("training data must yield (clip, label) batches or dicts")
    return batch[0], batch[1]


def hard_labels(labels):
    """Class ids of integer (B,) or soft (B, C) labels."""
    return ops.argmax(labels, axis=-1) if len(labels.shape) == 2 else labels


def main_logits(outputs):
    """The class logits of a model's output: the tensor itself, or the ``logits`` entry of
    a dict (a ``MicroActionModel`` also returns its assisting heads' logits)."""
    return outputs["logits"] if isinstance(outputs, dict) else outputs


def top_k_hits(labels, logits, k, weights=None):
    """How many examples (weighted) have their label among the k largest logits."""
    k = min(k, logits.shape[-1])
    labels = ops.cast(hard_labels(labels), "int32")
    hits = ops.cast(ops.in_top_k(labels, ops.cast(logits, "float32"), k), "float32")
    return ops.sum(hits if weights is None else hits * weights)


def eval_sums(labels, logits, weights=None):
    """(loss sum, top-1 hits, top-5 hits, count) of a batch, unsmoothed cross entropy;
    ``weights`` (B,) of 0/1 leaves padded examples out."""
    logits = at_least_float32(main_logits(logits))
    if len(labels.shape) == 2:
        per_example = soft_target_cross_entropy(labels, logits)
    else:
        per_example = label_smoothing_cross_entropy(labels, logits, 0.0)
    per_example = ops.cast(per_example, "float32")
    if weights is None:
        weights = ops.ones_like(per_example)
    return (ops.sum(per_example * weights), top_k_hits(labels, logits, 1, weights),
            top_k_hits(labels, logits, 5, weights), ops.sum(weights))


def global_norm(grads):
    """The L2 norm of all gradients together (what global-norm clipping sees)."""
    return ops.sqrt(sum(ops.sum(ops.square(ops.cast(g, "float32"))) for g in grads))

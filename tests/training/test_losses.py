"""Soft-target and label-smoothed cross entropy against hand computation."""

import numpy as np

from videomae_tf.training import (
    classification_loss, label_smoothing_cross_entropy, soft_target_cross_entropy,
)

LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], np.float32)


def _log_softmax(x):
    x = x.astype(np.float64)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_label_smoothing_cross_entropy():
    labels = np.array([0, 1])
    logp = _log_softmax(LOGITS)
    nll = -logp[[0, 1], labels]
    expected = 0.9 * nll + 0.1 * -logp.mean(-1)
    np.testing.assert_allclose(label_smoothing_cross_entropy(labels, LOGITS, 0.1), expected, rtol=1e-6)
    np.testing.assert_allclose(label_smoothing_cross_entropy(labels, LOGITS, 0.0), nll, rtol=1e-6)


def test_soft_target_cross_entropy():
    targets = np.array([[0.7, 0.3, 0.0], [0.1, 0.1, 0.8]], np.float32)
    expected = -(targets * _log_softmax(LOGITS)).sum(-1)
    np.testing.assert_allclose(soft_target_cross_entropy(targets, LOGITS), expected, rtol=1e-6)


def test_smoothed_one_hot_targets_equal_label_smoothing():
    labels = np.array([2, 0])
    targets = np.full((2, 3), 0.1 / 3, np.float32)
    targets[[0, 1], labels] += 0.9
    np.testing.assert_allclose(classification_loss(targets, LOGITS),
                               classification_loss(labels, LOGITS, 0.1), rtol=1e-6)

"""MA-52 losses and metrics against independent references: numpy re-implementations of
the winning solution's formulas (SPEC 9), hand-worked numbers and scikit-learn."""

import numpy as np
import pytest
from keras import ops

from videomae_tf.data.ma52 import FINE_TO_COARSE, coarse_of
from videomae_tf.evaluation import f1_scores, ma52_f1_mean
from videomae_tf.models.heads import ArcFace
from videomae_tf.training.losses import (arcface_logits, ce_f1_loss, combined_f1_loss,
                                         frame_ce_f1_loss, micro_action_loss)

RNG = np.random.default_rng(7)


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_combined_f1(logits, labels, classes, eps=1e-7):
    """The solution's CombinedF1Loss, written out in numpy (float64)."""
    p = np_softmax(logits.astype(np.float64))
    y = np.eye(classes)[labels]
    tp, fp, fn = (p * y).sum(0), (p * (1 - y)).sum(0), ((1 - p) * y).sum(0)
    prec, rec = tp / (tp + fp + eps), tp / (tp + fn + eps)
    macro = (2 * prec * rec / (prec + rec + eps)).mean()
    P, R = tp.sum() / (tp.sum() + fp.sum() + eps), tp.sum() / (tp.sum() + fn.sum() + eps)
    return (1 - macro) + (1 - 2 * P * R / (P + R + eps))


def np_ce(logits, labels):
    logp = np.log(np_softmax(logits.astype(np.float64)))
    return -logp[np.arange(len(labels)), labels]


def test_combined_f1_by_hand_on_a_perfect_and_a_uniform_batch():
    labels = np.array([0, 1, 2])
    perfect = np.eye(3) * 50.0  # softmax ~ one-hot on the labels
    assert float(combined_f1_loss(np.eye(3)[labels], perfect)) == pytest.approx(0.0, abs=1e-6)
    uniform = np.zeros((3, 3))  # p = 1/3 everywhere: tp = fp/2 = fn/2 = 1/3 per class
    # precision = 1/3, recall = 1/3, F1 = 1/3 per class and overall: loss = 2 * (2/3)
    assert float(combined_f1_loss(np.eye(3)[labels], uniform)) == pytest.approx(4 / 3, abs=1e-6)


def test_combined_f1_and_ce_f1_equal_the_numpy_reference():
    logits = RNG.normal(size=(16, 52)).astype("float32") * 2
    labels = RNG.integers(0, 52, 16)
    targets = np.eye(52, dtype="float32")[labels]
    expected_f1 = np_combined_f1(logits, labels, 52)
    assert float(combined_f1_loss(targets, logits)) == pytest.approx(expected_f1, rel=1e-5)
    per_example = np.asarray(ce_f1_loss(targets, logits))
    np.testing.assert_allclose(per_example, np_ce(logits, labels) + expected_f1, rtol=1e-5)


def test_frame_loss_repeats_the_label_over_frames():
    frame_logits = RNG.normal(size=(4, 3, 7)).astype("float32")
    labels = np.array([0, 3, 6, 3])
    targets = np.eye(7, dtype="float32")[labels]
    flat, flat_labels = frame_logits.reshape(-1, 7), np.repeat(labels, 3)
    expected = (np_ce(flat, flat_labels).reshape(4, 3).mean(1)
                + np_combined_f1(flat, flat_labels, 7))
    np.testing.assert_allclose(np.asarray(frame_ce_f1_loss(targets, frame_logits)), expected,
                               rtol=1e-5)


def test_fine_and_coarse_double_adds_up_as_the_solution_does():
    b, t = 6, 2
    outputs = {"logits": RNG.normal(size=(b, 52)).astype("float32"),
               "frame_logits": RNG.normal(size=(b, t, 52)).astype("float32"),
               "coarse_logits": RNG.normal(size=(b, 7)).astype("float32"),
               "coarse_frame_logits": RNG.normal(size=(b, t, 7)).astype("float32")}
    labels = np.array([0, 7, 20, 30, 40, 50])
    coarse = coarse_of(labels)

    def double(logits, frames, y, c):
        lead = np_ce(logits, y) + np_combined_f1(logits, y, c)
        flat, fy = frames.reshape(-1, c), np.repeat(y, frames.shape[1])
        frame = np_ce(flat, fy).reshape(len(y), -1).mean(1) + np_combined_f1(flat, fy, c)
        return lead + 0.5 * frame

    expected = (double(outputs["logits"], outputs["frame_logits"], labels, 52)
                + 0.5 * double(outputs["coarse_logits"], outputs["coarse_frame_logits"], coarse, 7))
    got = micro_action_loss("fine_a_coarse_double")(labels, outputs)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)
    got_double = micro_action_loss("double")(labels, outputs)
    np.testing.assert_allclose(np.asarray(got_double),
                               double(outputs["logits"], outputs["frame_logits"], labels, 52),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="needs the model outputs"):
        micro_action_loss("double")(labels, {"logits": outputs["logits"]})
    with pytest.raises(ValueError, match="unknown MA-52 loss"):
        micro_action_loss("f1")


def test_label_smoothing_and_soft_labels():
    logits = RNG.normal(size=(5, 52)).astype("float32")
    labels = RNG.integers(0, 52, 5)
    smooth = np.asarray(micro_action_loss("ce", smoothing=0.1)(labels, {"logits": logits}))
    logp = np.log(np_softmax(logits.astype(np.float64)))
    expected = 0.9 * -logp[np.arange(5), labels] + 0.1 * -logp.mean(1)
    np.testing.assert_allclose(smooth, expected, rtol=1e-5)
    soft = RNG.dirichlet(np.ones(52), 5).astype("float32")  # mixup-style targets
    got = np.asarray(micro_action_loss("ce")(soft, {"logits": logits}))
    np.testing.assert_allclose(got, -(soft * logp).sum(1), rtol=1e-5)


def np_arcface(features, kernel, s, m, margin_on, labels=None):
    f = features / np.linalg.norm(features, axis=1, keepdims=True)
    w = kernel / np.linalg.norm(kernel, axis=0, keepdims=True)
    cos = np.clip(f @ w, -1 + 1e-7, 1 - 1e-7)
    if margin_on == "all":
        return s * np.cos(np.arccos(cos) + m)
    out = s * cos
    if labels is not None:
        rows = np.arange(len(labels))
        out[rows, labels] = s * np.cos(np.arccos(cos[rows, labels]) + m)
    return out


@pytest.mark.parametrize("margin_on", ["target", "all"])
def test_arcface_logits_against_numpy(margin_on):
    layer = ArcFace(9, margin_on=margin_on)
    features = RNG.normal(size=(4, 12)).astype("float32")
    out = np.asarray(layer(features))
    kernel = np.asarray(layer.kernel)
    np.testing.assert_allclose(out, np_arcface(features, kernel, 30.0, 0.5, margin_on),
                               rtol=1e-4, atol=1e-4)
    if margin_on == "target":  # training: the loss puts the margin on the target class
        labels = np.array([0, 3, 8, 3])
        trained = np.asarray(arcface_logits(out, np.eye(9, dtype="float32")[labels], 30.0, 0.5))
        np.testing.assert_allclose(trained, np_arcface(features, kernel, 30.0, 0.5, "target",
                                                       labels), rtol=1e-4, atol=1e-4)


def test_f1_scores_and_f1_mean_equal_scikit_learn():
    sklearn = pytest.importorskip("sklearn.metrics")
    labels = RNG.integers(0, 52, 300)
    predictions = np.where(RNG.random(300) < 0.6, labels, RNG.integers(0, 52, 300))
    ours = f1_scores(labels, predictions)
    assert ours["macro_f1"] == pytest.approx(sklearn.f1_score(labels, predictions,
                                                              average="macro"))
    assert ours["micro_f1"] == pytest.approx(sklearn.f1_score(labels, predictions,
                                                              average="micro"))
    cl, cp = np.asarray(FINE_TO_COARSE)[labels], np.asarray(FINE_TO_COARSE)[predictions]
    expected = (sklearn.f1_score(labels, predictions, average="macro")
                + sklearn.f1_score(cl, cp, average="macro")
                + sklearn.f1_score(cl, cp, average="micro")
                + sklearn.f1_score(labels, predictions, average="micro")) / 4
    assert ma52_f1_mean(labels, predictions)["f1_mean"] == pytest.approx(expected)


def test_losses_keep_float64():
    logits = ops.convert_to_tensor(RNG.normal(size=(4, 52)), "float64")
    loss = micro_action_loss("ce_f1")(np.array([1, 2, 3, 4]), {"logits": logits})
    assert "64" in str(loss.dtype)

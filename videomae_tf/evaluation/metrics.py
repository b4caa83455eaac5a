"""Classification metrics on per-video scores: top-k, mean class accuracy, F1, MA-52 F1_mean.

Pure numpy, matching the reference implementations they are compared with:
``top_k_accuracy`` and ``mean_class_accuracy`` follow mmaction2
(``mmaction/evaluation/functional/accuracy.py``); the F1 scores follow scikit-learn's
``f1_score`` (macro: over the classes in labels or predictions, zero when undefined),
which the MAC 2024 solution uses for F1_mean (docs/numerics.md#ma52).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from videomae_tf.errors import InputError

__all__ = [
    "classification_metrics",
    "confusion_matrix",
    "f1_scores",
    "ma52_f1_mean",
    "mean_class_accuracy",
    "per_class_report",
    "precision_recall_f1",
    "top_k_accuracy",
]

#: First fine class of each MA-52 coarse (body-part) class: fine 0-4 -> 0, 5-10 -> 1,
#: 11-23 -> 2, 24-31 -> 3, 32-37 -> 4, 38-47 -> 5, 48-51 -> 6.


def _labels(labels, n: int | None = None) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if n is not None and len(labels) != n:
        raise InputError(f"{n} score rows but {len(labels)} labels")
    if labels.size and labels.min() < 0:
        raise InputError(f"labels must be >= 0, got {int(labels.min())}")
    return labels


def _scores(scores) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise InputError(f"scores must be a non-empty (videos, classes) matrix, got shape {scores.shape}")
    return scores


def top_k_accuracy(scores, labels, topk: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Fraction of rows whose label is among the k highest scores, for each k.

    A k above the number of classes counts every row as a hit (as mmaction2 does).
    """
    scores = _scores(scores)
    labels = _labels(labels, len(scores))
    order = np.argsort(-scores, axis=1, kind="stable")  # ties: the lower class first
    result = {}
    for k in topk:
        if k < 1:
            raise InputError(f"top-k needs k >= 1, got {k}")
        hits = np.any(order[:, :k] == labels[:, None], axis=1)
        result[int(k)] = float(hits.mean())
    return result


def confusion_matrix(labels, predictions, num_classes: int | None = None) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    labels = _labels(labels)
    predictions = _labels(predictions, len(labels))
    top = int(max(labels.max(initial=-1), predictions.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = top
    elif top > num_classes:
        raise InputError(f"class index {top - 1} out of range for {num_classes} classes")
    flat = labels * num_classes + predictions
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def mean_class_accuracy(scores, labels, classes: str = "mmaction2") -> float:
    """Mean over classes of the per-class recall (hits / label count) of the top-1 prediction.

    ``classes="mmaction2"`` (default, identical to mmaction2): the mean runs over every
    class that occurs in the labels OR the predictions; a class that is predicted but
    never true contributes 0. ``classes="labels"``: only classes present in the labels.
    """
    scores = _scores(scores)
    labels = _labels(labels, len(scores))
    predictions = np.argmax(scores, axis=1)
    cm = confusion_matrix(labels, predictions, scores.shape[1])
    counts, hits = cm.sum(axis=1), np.diag(cm)
    if classes == "mmaction2":
        used = np.union1d(labels, predictions)
    elif classes == "labels":
        used = np.unique(labels)
    else:
        raise InputError(f"classes must be 'mmaction2' or 'labels', got '{classes}'")
    recall = [hits[c] / counts[c] if counts[c] else 0.0 for c in used]
    return float(np.mean(recall))


def precision_recall_f1(labels, predictions, num_classes: int | None = None):
    """Per-class precision, recall, F1 and support (arrays of length C); 0 where undefined."""
    cm = confusion_matrix(labels, predictions, num_classes).astype(np.float64)
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    return precision, recall, f1, support.astype(np.int64)


def f1_scores(labels, predictions) -> dict[str, float]:
    """Macro and micro F1 as scikit-learn's ``f1_score`` computes them.

    Macro: the plain mean of per-class F1 over the classes that appear in the labels or
    the predictions. Micro: F1 of the pooled counts (equals accuracy for single-label data).
    """
    labels = _labels(labels)
    predictions = _labels(predictions, len(labels))
    if not len(labels):
        raise InputError("F1 needs at least one label")
    _, _, f1, _ = precision_recall_f1(labels, predictions)
    used = np.union1d(labels, predictions)
    tp = float(np.sum(labels == predictions))
    fp = fn = len(labels) - tp  # every miss is one false positive and one false negative
    micro = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {"macro_f1": float(np.mean(f1[used])), "micro_f1": float(micro)}


def ma52_f1_mean(labels, predictions) -> dict[str, float]:
    """MA-52 F1_mean = (macro-F1 fine + macro-F1 coarse + micro-F1 coarse + micro-F1 fine) / 4.

    ``labels`` and ``predictions`` are fine classes (top-1); the coarse ones follow from
    the fixed mapping. Returns F1_mean and its four parts.
    """
    from videomae_tf.data.ma52 import coarse_of

    fine = f1_scores(labels, predictions)
    coarse = f1_scores(coarse_of(_labels(labels)), coarse_of(_labels(predictions)))
    parts = {
        "fine_macro_f1": fine["macro_f1"],
        "fine_micro_f1": fine["micro_f1"],
        "coarse_macro_f1": coarse["macro_f1"],
        "coarse_micro_f1": coarse["micro_f1"],
    }
    return {"f1_mean": sum(parts.values()) / 4.0, **parts}


def per_class_report(labels, predictions, class_names: Sequence[str] | None = None,
                     num_classes: int | None = None) -> list[dict]:
    """One dict per class: id, name, precision, recall, f1, support, predicted (count)."""
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    cm = confusion_matrix(labels, predictions, num_classes)
    precision, recall, f1, support = precision_recall_f1(labels, predictions, cm.shape[0])
    predicted = cm.sum(axis=0)
    names = list(class_names) if class_names is not None else [str(c) for c in range(cm.shape[0])]
    if len(names) != cm.shape[0]:
        raise InputError(f"{len(names)} class names for {cm.shape[0]} classes")
    return [
        {"class_id": c, "name": names[c], "precision": float(precision[c]),
         "recall": float(recall[c]), "f1": float(f1[c]), "support": int(support[c]),
         "predicted": int(predicted[c])}
        for c in range(cm.shape[0])
    ]


def classification_metrics(probs, labels, topk: Sequence[int] = (1, 5), ma52: bool = False
                           ) -> dict[str, float]:
    """The headline numbers of a test run: ``top1``, ``top5``..., ``mean_class_accuracy``,
    macro/micro F1, and with ``ma52`` the F1_mean parts."""
    probs = _scores(probs)
    labels = _labels(labels, len(probs))
    if labels.max() >= probs.shape[1]:
        raise InputError(f"label {int(labels.max())} out of range for {probs.shape[1]} classes")
    predictions = np.argmax(probs, axis=1)
    metrics = {f"top{k}": v for k, v in top_k_accuracy(probs, labels, topk).items()}
    metrics["mean_class_accuracy"] = mean_class_accuracy(probs, labels)
    metrics.update(f1_scores(labels, predictions))
    if ma52:
        if probs.shape[1] != 52:
            raise InputError(f"MA-52 F1_mean needs 52 fine classes, the scores have {probs.shape[1]}")
        metrics.update(ma52_f1_mean(labels, predictions))
    return metrics

"""Metrics against hand-made score matrices; every expected number is worked out by hand."""

import numpy as np
import pytest

from videomae_tf.data.ma52 import coarse_matrix, coarse_of
from videomae_tf.evaluation import (
    classification_metrics,
    confusion_matrix,
    f1_scores,
    ma52_f1_mean,
    mean_class_accuracy,
    per_class_report,
    precision_recall_f1,
    top_k_accuracy,
)

# 6 videos, 4 classes, no ties. Rankings (best first) and labels:
#   v0 0,1|2,3 label 0 -> top1 hit           v3 3,2,1,0 label 2 -> top2 hit
#   v1 1,0,2,3 label 0 -> top2 hit           v4 0,1,2,3 label 2 -> top3 hit
#   v2 1,2,3,0 label 1 -> top1 hit           v5 2,1,3,0 label 2 -> top1 hit
SCORES = np.array([
    [0.70, 0.12, 0.10, 0.08],
    [0.30, 0.50, 0.15, 0.05],
    [0.05, 0.60, 0.25, 0.10],
    [0.10, 0.20, 0.30, 0.40],
    [0.40, 0.30, 0.20, 0.10],
    [0.05, 0.15, 0.70, 0.10],
])
LABELS = np.array([0, 0, 1, 2, 2, 2])
PREDS = np.array([0, 1, 1, 3, 0, 2])


def test_top_k_accuracy_by_hand():
    acc = top_k_accuracy(SCORES, LABELS, topk=(1, 2, 3, 5))
    assert acc[1] == pytest.approx(3 / 6)
    assert acc[2] == pytest.approx(5 / 6)
    assert acc[3] == pytest.approx(1.0)
    assert acc[5] == pytest.approx(1.0)  # k above the class count: every row is a hit


def test_confusion_matrix_rows_true_columns_predicted():
    expected = np.array([[1, 1, 0, 0],
                         [0, 1, 0, 0],
                         [1, 0, 1, 1],
                         [0, 0, 0, 0]])
    np.testing.assert_array_equal(confusion_matrix(LABELS, PREDS, 4), expected)
    np.testing.assert_array_equal(confusion_matrix(LABELS, PREDS), expected)  # size inferred
    with pytest.raises(ValueError, match="out of range"):
        confusion_matrix(LABELS, PREDS, 3)


def test_mean_class_accuracy_matches_mmaction2():
    # recall: class 0 1/2, class 1 1/1, class 2 1/3; class 3 is predicted but never true,
    # and mmaction2 counts it as 0 over the union of label and prediction classes.
    assert mean_class_accuracy(SCORES, LABELS) == pytest.approx((1 / 2 + 1 + 1 / 3 + 0) / 4)
    assert mean_class_accuracy(SCORES, LABELS, classes="labels") == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)


def test_precision_recall_f1_support_by_hand():
    p, r, f1, support = precision_recall_f1(LABELS, PREDS, 4)
    np.testing.assert_allclose(p, [1 / 2, 1 / 2, 1, 0])
    np.testing.assert_allclose(r, [1 / 2, 1, 1 / 3, 0])
    np.testing.assert_allclose(f1, [1 / 2, 2 / 3, 1 / 2, 0])
    np.testing.assert_array_equal(support, [2, 1, 3, 0])


def test_f1_scores_macro_over_label_and_prediction_classes():
    f1 = f1_scores(LABELS, PREDS)
    assert f1["macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 1 / 2 + 0) / 4)
    assert f1["micro_f1"] == pytest.approx(3 / 6)  # = accuracy for single-label data


def test_per_class_report_names_and_counts():
    report = per_class_report(LABELS, PREDS, ["a", "b", "c", "d"])
    assert [row["name"] for row in report] == ["a", "b", "c", "d"]
    assert report[1] == {"class_id": 1, "name": "b", "precision": 0.5, "recall": 1.0,
                         "f1": pytest.approx(2 / 3), "support": 1, "predicted": 2}
    with pytest.raises(ValueError, match="3 class names for 4 classes"):
        per_class_report(LABELS, PREDS, ["a", "b", "c"], num_classes=4)


def test_ma52_coarse_mapping_matches_the_spec():
    fine = [0, 4, 5, 10, 11, 23, 24, 31, 32, 37, 38, 47, 48, 51]
    np.testing.assert_array_equal(coarse_of(fine), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
    coarse = coarse_of(np.arange(52)).tolist()
    assert coarse[:5] == [0] * 5 and coarse[5:11] == [1] * 6 and coarse[11:24] == [2] * 13
    assert coarse[24:32] == [3] * 8 and coarse[32:38] == [4] * 6
    assert coarse[38:48] == [5] * 10 and coarse[48:] == [6] * 4
    with pytest.raises(ValueError, match="0..51"):
        coarse_of([52])
    assert coarse_matrix().sum(axis=0).tolist() == [5, 6, 13, 8, 6, 10, 4]


def test_ma52_f1_mean_by_hand():
    labels = [0, 4, 5, 12, 50, 30]
    preds = [0, 3, 11, 12, 49, 24]
    # fine: hits at 0 and 12 -> micro 2/6; 10 classes in labels|preds, F1 1 for 0 and 12 -> macro 2/10
    # coarse: labels 0,0,1,2,6,3, preds 0,0,2,2,6,3 -> micro 5/6;
    #   F1 per class 0:1, 1:0, 2:2/3 (P 1/2, R 1), 3:1, 6:1 -> macro (11/3)/5
    out = ma52_f1_mean(labels, preds)
    assert out["fine_micro_f1"] == pytest.approx(1 / 3)
    assert out["fine_macro_f1"] == pytest.approx(0.2)
    assert out["coarse_micro_f1"] == pytest.approx(5 / 6)
    assert out["coarse_macro_f1"] == pytest.approx(11 / 15)
    assert out["f1_mean"] == pytest.approx((0.2 + 11 / 15 + 5 / 6 + 1 / 3) / 4)  # = 0.525
    assert out["f1_mean"] == pytest.approx(0.525)


def test_classification_metrics_headline_and_errors():
    m = classification_metrics(SCORES, LABELS, topk=(1, 5))
    assert m["top1"] == pytest.approx(0.5) and m["top5"] == pytest.approx(1.0)
    assert m["mean_class_accuracy"] == pytest.approx(11 / 24)
    assert m["macro_f1"] == pytest.approx(5 / 12)
    with pytest.raises(ValueError, match="52 fine classes"):
        classification_metrics(SCORES, LABELS, ma52=True)
    with pytest.raises(ValueError, match="out of range"):
        classification_metrics(SCORES, [0, 0, 1, 2, 2, 7])
    with pytest.raises(ValueError, match="6 score rows but 5 labels"):
        classification_metrics(SCORES, LABELS[:5])
    with pytest.raises(ValueError, match="matrix"):
        top_k_accuracy(SCORES[0], LABELS[:1])

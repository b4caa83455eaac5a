"""Multi-view aggregation: per-view softmax then mean, keyed by video id (SPEC 8)."""

import numpy as np
import pytest

from videomae_tf.evaluation import ViewAccumulator, aggregate_views, softmax

L = np.log


def test_softmax_then_mean_differs_from_mean_of_logits():
    # One video, label 1, three views whose logits are log-probabilities, so each view's
    # softmax is exactly [p, 1 - p]: p = 0.1, 0.1, 0.999.
    logits = np.array([[L(0.1), L(0.9)], [L(0.1), L(0.9)], [L(0.999), L(0.001)]])
    ids = [7, 7, 7]
    official = aggregate_views(logits, ids, labels=[1, 1, 1])
    # mean of softmaxes: class 0 = (0.1 + 0.1 + 0.999) / 3 = 0.399667 -> predicts 1 (right)
    np.testing.assert_allclose(official.probs, [[1.199 / 3, 1.801 / 3]])
    assert official.predictions.tolist() == [1]
    # mean of logits = log of the geometric mean: class 0 (0.1 * 0.1 * 0.999)^(1/3) = 0.21537,
    # class 1 (0.9 * 0.9 * 0.001)^(1/3) = 0.09322 -> predicts 0 (wrong)
    g0, g1 = (0.1 * 0.1 * 0.999) ** (1 / 3), (0.9 * 0.9 * 0.001) ** (1 / 3)
    logit = aggregate_views(logits, ids, labels=[1, 1, 1], aggregation="logit_mean")
    np.testing.assert_allclose(logit.probs, [[g0 / (g0 + g1), g1 / (g0 + g1)]])
    assert logit.predictions.tolist() == [0]


def test_views_keyed_by_video_id_in_any_order_across_batches():
    # video 5: views softmax to [0.5, 0.5] and [0.9, 0.1]  -> mean [0.7, 0.3]
    # video 2: views softmax to [0.2, 0.8] (twice) and [0.8, 0.2] -> mean [0.4, 0.6]
    acc = ViewAccumulator()
    acc.add([[0.0, 0.0], [L(0.2), L(0.8)]], video_ids=[5, 2], labels=[0, 1], views=[0, 0])
    acc.add([[L(0.2), L(0.8)], [L(0.9), L(0.1)], [L(0.8), L(0.2)]], video_ids=[2, 5, 2],
            labels=[1, 0, 1], views=[1, 1, 2])
    result = acc.result()
    assert result.video_ids.tolist() == [2, 5]  # sorted by id
    np.testing.assert_allclose(result.probs, [[0.4, 0.6], [0.7, 0.3]])
    assert result.labels.tolist() == [1, 0]
    assert result.num_views.tolist() == [3, 2]
    assert acc.num_views_total == 5


def test_many_videos_grow_the_buffers():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 3))
    ids = np.repeat(np.arange(100), 3)
    result = aggregate_views(logits, ids)
    expected = softmax(logits).reshape(100, 3, 3).mean(axis=1)
    np.testing.assert_allclose(result.probs, expected)
    assert result.labels is None


def test_inconsistent_input_is_reported():
    acc = ViewAccumulator()
    acc.add([[0.0, 1.0]], video_ids=[1], labels=[0], views=[0])
    with pytest.raises(ValueError, match="video 1 has views labelled 0 and 1"):
        acc.add([[0.0, 1.0]], video_ids=[1], labels=[1], views=[1])
    with pytest.raises(ValueError, match="view 0 of video 1 was given twice"):
        acc.add([[0.0, 1.0]], video_ids=[1], labels=[0], views=[0])
    with pytest.raises(ValueError, match="3 classes, earlier ones 2"):
        acc.add([[0.0, 1.0, 2.0]], video_ids=[2], labels=[0])
    with pytest.raises(ValueError, match="unknown aggregation"):
        ViewAccumulator("max")
    with pytest.raises(ValueError, match="no views"):
        ViewAccumulator().result()


def test_a_rejected_batch_changes_nothing():
    acc = ViewAccumulator()
    acc.add([[0.0, 0.0]], video_ids=[1], labels=[0], views=[0])
    with pytest.raises(ValueError, match="labelled"):
        acc.add([[5.0, 0.0], [0.0, 5.0]], video_ids=[2, 1], labels=[1, 1], views=[0, 1])
    result = acc.result()
    assert result.video_ids.tolist() == [1] and result.num_views.tolist() == [1]
    np.testing.assert_allclose(result.probs, [[0.5, 0.5]])

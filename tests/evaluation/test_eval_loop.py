"""evaluate() over tf.data: views split across batches, keyed by video id, scored."""

import numpy as np
import pytest
import tensorflow as tf

from videomae_tf.evaluation import InferenceModel, evaluate, predict_videos

L = np.log
CLIP = (2, 1, 3, 3)  # (T, H, W, C); the fake model reads its logits off clip[0, 0, :, 0]


def logits_model(clips):
    """A stand-in classifier: the logits are written into the clip itself."""
    return np.asarray(clips)[:, 0, 0, :, 0]


def view_dataset(view_logits, video_ids, labels):
    clips = np.zeros((len(view_logits),) + CLIP, np.float32)
    clips[:, 0, 0, :, 0] = view_logits
    views = np.zeros(len(video_ids), np.int32)
    for i in range(len(video_ids)):
        views[i] = sum(v == video_ids[i] for v in video_ids[:i])
    return tf.data.Dataset.from_tensor_slices({
        "video": clips, "label": np.asarray(labels, np.int32),
        "video_id": np.asarray(video_ids, np.int32), "view": views})


# video 0 (label 1): softmax [0.1 .9], [0.1 .9], [0.999 .001] -> mean picks 1; logit mean picks 0
# video 1 (label 2): softmax [.2 .2 .6], [.6 .2 .2]           -> [.4 .2 .4]: tie -> class 0
# video 2 (label 0): softmax [.7 .2 .1]                        -> class 0
VIEWS = [[L(0.1), L(0.9), -50], [L(0.2), L(0.2), L(0.6)], [L(0.1), L(0.9), -50],
         [L(0.7), L(0.2), L(0.1)], [L(0.6), L(0.2), L(0.2)], [L(0.999), L(0.001), -50]]
IDS = [0, 1, 0, 2, 1, 0]
LABELS = [1, 2, 1, 0, 2, 1]


def test_evaluate_softmax_mean_by_hand(tmp_path):
    model = InferenceModel(logits_model, CLIP, source="fake")
    metrics = evaluate(model, view_dataset(VIEWS, IDS, LABELS), class_names=["a", "b", "c"],
                       batch_size=4, topk=(1, 2), output_dir=tmp_path, progress=False)
    # predictions 1, 0, 0 for labels 1, 2, 0 -> top-1 2/3; top-2 of video 1 is {0, 2} -> 1.0
    assert metrics["top1"] == pytest.approx(2 / 3)
    assert metrics["top2"] == pytest.approx(1.0)
    assert metrics["num_videos"] == 3 and metrics["num_views"] == 6
    assert metrics["views_per_video_min"] == 1 and metrics["views_per_video_max"] == 3
    assert [row["support"] for row in metrics["per_class"]] == [1, 1, 1]
    assert (tmp_path / "confusion_matrix.png").is_file()


def test_logit_mean_gets_video_0_wrong():
    model = InferenceModel(logits_model, CLIP)
    scores = predict_videos(model, view_dataset(VIEWS, IDS, LABELS).batch(5),
                            aggregation="logit_mean", progress=False)
    assert scores.predictions.tolist()[0] == 0
    soft = predict_videos(model, view_dataset(VIEWS, IDS, LABELS), progress=False)
    np.testing.assert_allclose(soft.probs[0][:2], [1.199 / 3, 1.801 / 3], rtol=1e-5)
    np.testing.assert_allclose(soft.probs[1], [0.4, 0.2, 0.4], rtol=1e-5)


def test_tuple_dataset_is_one_view_per_video():
    clips = np.zeros((3,) + CLIP, np.float32)
    clips[:, 0, 0, :, 0] = [[3, 0, 0], [0, 3, 0], [0, 3, 0]]
    ds = tf.data.Dataset.from_tensor_slices((clips, np.array([0, 1, 2], np.int32))).batch(2)
    metrics = evaluate(logits_model, ds, topk=(1,), progress=False)
    assert metrics["top1"] == pytest.approx(2 / 3) and metrics["num_videos"] == 3


def test_wrong_clip_shape_is_reported_before_running():
    model = InferenceModel(logits_model, (16, 224, 224, 3), source="model 'tiny'")
    with pytest.raises(ValueError, match=r"takes clips of shape \(16, 224, 224, 3\).*\(2, 1, 3, 3\)"):
        evaluate(model, view_dataset(VIEWS, IDS, LABELS), progress=False)

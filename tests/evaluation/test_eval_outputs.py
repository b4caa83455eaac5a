"""Result files (pickle, CSV, class report, metrics JSON) and the confusion-matrix PNG."""

import csv
import json
import pickle

import cv2
import numpy as np
import pytest

from videomae_tf.evaluation import (
    VideoScores,
    dump_scores,
    load_scores,
    render_confusion_matrix,
    save_confusion_matrix,
    write_outputs,
    write_predictions_csv,
)
from videomae_tf.evaluation.runner import score_videos

SCORES = VideoScores(
    video_ids=np.array([0, 1, 3]),
    probs=np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.1, 0.7, 0.2]]),
    labels=np.array([0, 1, 1]),
    num_views=np.array([15, 15, 14]),
)
NAMES = ["run", "jump", "swim"]
FILES = ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]  # indexed by video id


def test_pickle_is_one_mmaction2_style_dict_per_video(tmp_path):
    path = dump_scores(tmp_path / "s.pkl", SCORES, FILES)
    with open(path, "rb") as f:
        records = pickle.load(f)
    assert len(records) == 3
    first = records[2]
    assert first["video_id"] == 3 and first["filename"] == "d.mp4" and first["num_views"] == 14
    assert first["pred_score"].dtype == np.float32 and first["pred_score"].shape == (3,)
    assert first["pred_label"].tolist() == [1] and first["gt_label"].tolist() == [1]
    back = load_scores(path)
    np.testing.assert_allclose(back.probs, SCORES.probs, rtol=1e-6)
    assert back.labels.tolist() == [0, 1, 1] and back.video_ids.tolist() == [0, 1, 3]


def test_predictions_csv_columns(tmp_path):
    path = write_predictions_csv(tmp_path / "p.csv", SCORES, NAMES, FILES, topk=5)
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0])[:8] == ["video_id", "filename", "label", "label_name", "prediction",
                                 "prediction_name", "top3", "top3_probs"]
    second = rows[1]  # video 1: probs 0.2 0.3 0.5, label jump, predicted swim
    assert second["filename"] == "b.mp4" and second["label_name"] == "jump"
    assert second["prediction"] == "2" and second["prediction_name"] == "swim"
    assert second["top3"] == "2 1 0"
    assert [float(second[f"prob_{c}"]) for c in range(3)] == [0.2, 0.3, 0.5]
    with pytest.raises(ValueError, match="do not index"):
        write_predictions_csv(tmp_path / "q.csv", SCORES, NAMES, FILES[:2])


def test_write_outputs_writes_every_file(tmp_path):
    metrics = score_videos(SCORES, NAMES, topk=(1, 2))
    assert metrics["top1"] == pytest.approx(2 / 3) and metrics["top2"] == pytest.approx(1.0)
    assert metrics["num_views"] == 44 and metrics["views_per_video_min"] == 14
    written = write_outputs(tmp_path / "out", SCORES, metrics, NAMES, FILES)
    assert set(written) == {"metrics", "scores", "predictions", "class_report",
                            "confusion_png", "confusion_csv"}
    assert json.loads(written["metrics"].read_text())["per_class"][1]["name"] == "jump"
    np.testing.assert_array_equal(np.loadtxt(written["confusion_csv"], delimiter=",", dtype=int),
                                  [[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    report = list(csv.DictReader(open(written["class_report"])))
    assert report[1]["recall"] == "0.500000" and report[1]["support"] == "2"
    # the picture of that matrix, titled with the top-1
    cm = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(cv2.imread(str(written["confusion_png"])),
                                  render_confusion_matrix(cm, NAMES, "top-1 0.667 on 3 videos"))


def test_confusion_png_colours_follow_row_rates(tmp_path):
    cm = np.array([[5, 0], [1, 1]])
    image = render_confusion_matrix(cm, ["left", "right"])
    assert image.dtype == np.uint8 and image.ndim == 3
    path = save_confusion_matrix(tmp_path / "cm.png", cm, ["left", "right"])
    assert cv2.imread(str(path)).shape == image.shape
    # 400 classes: tiny cells, no names, still a picture of bounded size
    big = render_confusion_matrix(np.eye(400, dtype=int))
    assert max(big.shape[:2]) < 1500
    with pytest.raises(ValueError, match="square"):
        render_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="1 class names"):
        render_confusion_matrix(cm, ["x"])

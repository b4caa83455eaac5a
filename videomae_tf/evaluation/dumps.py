"""Result files: the per-video pickle (mmaction2 ``--dump`` style), a predictions CSV,
the per-class report CSV and the metrics JSON.

The pickle is a list with one dict per video, in video-id order, holding numpy arrays
where mmaction2 holds tensors: ``pred_score`` (C,) float32 probabilities,
``pred_label`` (1,) int64, ``gt_label`` (1,) int64 (when labelled), plus ``video_id``,
``filename`` and ``num_views``. Score-ensembling scripts written for mmaction2 dumps
read it with ``np.asarray(d["pred_score"])`` in place of ``.numpy()``.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.evaluation.aggregation import VideoScores
from videomae_tf.files import write_bytes_atomic, write_text_atomic

__all__ = ["dump_scores", "load_scores", "load_scores_and_names", "write_class_report",
           "write_metrics", "write_predictions_csv"]


def _names(scores: VideoScores, filenames: Sequence[str] | None) -> list:
    """File name of each row: ``filenames`` indexed by video id, else the id itself."""
    if filenames is None:
        return [None] * len(scores)
    try:
        return [filenames[int(v)] for v in scores.video_ids]
    except (IndexError, ValueError, TypeError):
        raise InputError(f"video ids {scores.video_ids[:3].tolist()}... do not index the "
                         f"{len(filenames)} file names") from None


def dump_scores(path, scores: VideoScores, filenames: Sequence[str] | None = None) -> Path:
    """Pickle one dict per video (see the module docstring); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = _names(scores, filenames)
    records = []
    for i, vid in enumerate(scores.video_ids):
        probs = scores.probs[i].astype(np.float32)
        record = {"video_id": vid.item() if isinstance(vid, np.generic) else vid,
                  "filename": names[i], "num_views": int(scores.num_views[i]),
                  "pred_score": probs,
                  "pred_label": np.array([int(np.argmax(probs))], np.int64)}
        if scores.labels is not None:
            record["gt_label"] = np.array([int(scores.labels[i])], np.int64)
        records.append(record)
    return write_bytes_atomic(path, pickle.dumps(records, protocol=4))


def load_scores(path) -> VideoScores:
    """Read a pickle written by ``dump_scores`` back into VideoScores (trusted files only)."""
    return load_scores_and_names(path)[0]


def load_scores_and_names(path) -> tuple[VideoScores, list]:
    """``load_scores`` and the file name of each row (None where the dump has none)."""
    try:
        with open(path, "rb") as f:
            records = pickle.load(f)  # noqa: S301 - our own output, plain numpy and builtins
    except (OSError, pickle.UnpicklingError, EOFError) as e:
        raise InputError(f"{path} is not a scores file written by evaluate ({e})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) and "pred_score" in r
                                                 for r in records):
        raise InputError(f"{path} is not a scores file written by evaluate (a list of dicts "
                         "with pred_score)")
    if not records:
        raise InputError(f"{path} holds no videos")
    names = [r.get("filename") for r in records]
    labelled = all("gt_label" in r for r in records)
    return VideoScores(
        video_ids=np.asarray([r.get("video_id", i) for i, r in enumerate(records)]),
        probs=np.stack([np.asarray(r["pred_score"], np.float64) for r in records]),
        labels=np.asarray([int(np.asarray(r["gt_label"]).reshape(-1)[0]) for r in records])
        if labelled else None,
        num_views=np.asarray([r.get("num_views", 1) for r in records], np.int64),
    ), names


def write_predictions_csv(path, scores: VideoScores, class_names: Sequence[str] | None = None,
                          filenames: Sequence[str] | None = None, topk: int = 5) -> Path:
    """CSV, one row per video: video_id, filename, label, label_name, prediction,
    prediction_name, top{k} (space-separated ids), top{k}_probs, then prob_0..prob_{C-1}."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = _names(scores, filenames)
    k = min(topk, scores.num_classes)
    top = np.argsort(-scores.probs, axis=1, kind="stable")[:, :k]

    def name(c):
        return class_names[c] if class_names is not None else ""

    header = ["video_id", "filename", "label", "label_name", "prediction", "prediction_name",
              f"top{k}", f"top{k}_probs"] + [f"prob_{c}" for c in range(scores.num_classes)]
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(header)
    for i, vid in enumerate(scores.video_ids):
        label = "" if scores.labels is None else int(scores.labels[i])
        pred = int(top[i, 0])
        writer.writerow(
            [vid, names[i] or "", label, "" if label == "" else name(label), pred, name(pred),
             " ".join(str(int(c)) for c in top[i]),
             " ".join(f"{scores.probs[i, c]:.6f}" for c in top[i])]
            + [f"{p:.6g}" for p in scores.probs[i]])
    return write_text_atomic(path, table.getvalue())


def write_class_report(path, report: Sequence[dict]) -> Path:
    """CSV of ``per_class_report`` rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["class_id", "name", "precision", "recall", "f1", "support", "predicted"]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=fields)
    writer.writeheader()
    for row in report:
        writer.writerow({k: (f"{row[k]:.6f}" if isinstance(row[k], float) else row[k])
                         for k in fields})
    return write_text_atomic(path, table.getvalue())


def write_metrics(path, metrics: dict) -> Path:
    """The metrics dict as indented JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, json.dumps(metrics, indent=2, sort_keys=True,
                                              default=_jsonable) + "\n")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")

"""Run a classifier over a multi-view test dataset and score it.

The dataset is what ``videomae_tf.data.pipeline.multiview_dataset`` builds: dicts with
``video`` (B, T, H, W, 3), ``label``, ``video_id`` and ``view``, batched or not. A
``(clip, label)`` dataset (``validation_dataset``) also works: each element is then its
own one-view video.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.evaluation.aggregation import VideoScores, ViewAccumulator
from videomae_tf.evaluation.confusion_plot import save_confusion_matrix
from videomae_tf.evaluation.dumps import (
    dump_scores,
    write_class_report,
    write_metrics,
    write_predictions_csv,
)
from videomae_tf.evaluation.inference import as_inference_model
from videomae_tf.evaluation.metrics import (
    classification_metrics,
    confusion_matrix,
    per_class_report,
)
from videomae_tf.evaluation.progress import progress_bar
from videomae_tf.files import write_text_atomic

__all__ = ["OUTPUT_FILES", "evaluate", "predict_videos", "score_videos", "write_outputs"]

#: What ``write_outputs`` writes in its directory.
OUTPUT_FILES = {
    "metrics": "metrics.json",
    "scores": "scores.pkl",
    "predictions": "predictions.csv",
    "class_report": "class_report.csv",
    "confusion_png": "confusion_matrix.png",
    "confusion_csv": "confusion_matrix.csv",
}


def _batched(dataset, batch_size: int):
    """Batch the dataset when its elements are single views."""
    spec = dataset.element_spec
    clip_spec = spec["video"] if isinstance(spec, dict) else spec[0]
    if clip_spec.shape.rank == 4:
        return dataset.batch(batch_size)
    if clip_spec.shape.rank != 5:
        raise InputError(f"dataset clips must be (T, H, W, C) or batched (B, T, H, W, C), "
                         f"got shape {clip_spec.shape}")
    return dataset


def _clip_shape(dataset):
    spec = dataset.element_spec
    clip_spec = spec["video"] if isinstance(spec, dict) else spec[0]
    return tuple(clip_spec.shape)[1:]


def predict_videos(model, dataset, *, aggregation: str = "softmax_mean", batch_size: int = 8,
                   total_views: int | None = None, progress: bool = True,
                   desc: str = "evaluating") -> VideoScores:
    """Run ``model`` over every view in ``dataset`` and aggregate per video.

    ``model``: a Keras classifier, an ``InferenceModel``, a loaded SavedModel or a callable
    clips -> logits. ``total_views`` sizes the progress bar (the pipeline cannot know it).
    """
    run = as_inference_model(model)
    dataset = _batched(dataset, batch_size)
    run.check_clip_shape(_clip_shape(dataset))
    acc = ViewAccumulator(aggregation)
    running_id = 0
    with progress_bar(total_views, desc, unit="view", enabled=progress) as bar:
        for batch in dataset.as_numpy_iterator():
            if isinstance(batch, dict):
                clips = batch["video"]
                video_ids = batch.get("video_id")
                labels, views = batch.get("label"), batch.get("view")
            else:  # (clip, label): one view per video
                clips, labels = batch[0], (batch[1] if len(batch) > 1 else None)
                video_ids, views = None, None
                if labels is not None and np.ndim(labels) != 1:
                    raise InputError("evaluation needs integer labels, got one-hot/soft "
                                     f"labels of shape {np.shape(labels)}")
            if video_ids is None:
                video_ids = np.arange(running_id, running_id + len(clips))
                running_id += len(clips)
            logits = run(clips)
            if run.num_classes is None:
                run.num_classes = logits.shape[1]
            acc.add(logits, video_ids, labels=labels, views=views)
            bar.update(len(clips))
    return acc.result()


def score_videos(scores: VideoScores, class_names: Sequence[str] | None = None,
                 topk: Sequence[int] = (1, 5), ma52: bool = False) -> dict:
    """The metrics dict of aggregated scores (see ``evaluate``)."""
    if scores.labels is None:
        raise InputError("the dataset has no labels: nothing to score against")
    if class_names is not None and len(class_names) != scores.num_classes:
        raise InputError(f"{len(class_names)} class names but the model scores "
                         f"{scores.num_classes} classes")
    metrics = classification_metrics(scores.probs, scores.labels, topk=topk, ma52=ma52)
    metrics.update(num_videos=len(scores), num_views=int(scores.num_views.sum()),
                   views_per_video_min=int(scores.num_views.min()),
                   views_per_video_max=int(scores.num_views.max()))
    metrics["per_class"] = per_class_report(scores.labels, scores.predictions, class_names,
                                            num_classes=scores.num_classes)
    return metrics


def write_outputs(output_dir, scores: VideoScores, metrics: dict | None = None,
                  class_names: Sequence[str] | None = None,
                  filenames: Sequence[str] | None = None) -> dict[str, Path]:
    """Write metrics JSON, the score pickle, predictions CSV and, with labels, the
    per-class report and confusion matrix (PNG + CSV). Returns {kind: path}."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "scores": dump_scores(out / OUTPUT_FILES["scores"], scores, filenames),
        "predictions": write_predictions_csv(out / OUTPUT_FILES["predictions"], scores,
                                             class_names, filenames),
    }
    if metrics is not None:
        written["metrics"] = write_metrics(out / OUTPUT_FILES["metrics"], metrics)
        if "per_class" in metrics:
            written["class_report"] = write_class_report(out / OUTPUT_FILES["class_report"],
                                                         metrics["per_class"])
    if scores.labels is not None:
        cm = confusion_matrix(scores.labels, scores.predictions, scores.num_classes)
        table = io.StringIO()
        np.savetxt(table, cm, fmt="%d", delimiter=",")
        written["confusion_csv"] = write_text_atomic(out / OUTPUT_FILES["confusion_csv"],
                                                     table.getvalue())
        title = (f"top-1 {metrics['top1']:.3f} on {len(scores)} videos" if metrics else "")
        written["confusion_png"] = save_confusion_matrix(out / OUTPUT_FILES["confusion_png"],
                                                         cm, class_names, title)
    return written


def evaluate(model, dataset, *, class_names: Sequence[str] | None = None,
             aggregation: str = "softmax_mean", topk: Sequence[int] = (1, 5), ma52: bool = False,
             output_dir=None, filenames: Sequence[str] | None = None, batch_size: int = 8,
             total_views: int | None = None, progress: bool = True) -> dict:
    """Multi-view evaluation of a classifier; returns the metrics dict.

    Per-view softmax, then the mean per video (``aggregation="softmax_mean"``; docs/numerics.md#test-views).
    Keys: ``top1``, ``top5`` (one per k in ``topk``), ``mean_class_accuracy``,
    ``macro_f1``, ``micro_f1``, with ``ma52`` also ``f1_mean`` and its four parts;
    ``num_videos``, ``num_views``, ``views_per_video_min/max``; ``per_class`` (a list of
    per-class dicts with names). With ``output_dir`` also writes the files of
    ``OUTPUT_FILES`` (``filenames`` indexed by video id name the rows).
    """
    scores = predict_videos(model, dataset, aggregation=aggregation, batch_size=batch_size,
                            total_views=total_views, progress=progress)
    metrics = score_videos(scores, class_names, topk=topk, ma52=ma52)
    metrics["aggregation"] = aggregation
    if output_dir is not None:
        write_outputs(output_dir, scores, metrics, class_names, filenames)
    return metrics

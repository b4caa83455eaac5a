"""Multi-view test data for a given model, and top-k prediction of video files.

``views_dataset`` fixes the clip geometry (frames, crop size) from the model, so the
test views always fit it; ``predict_files`` runs the same multi-view test on videos that
have no annotation list.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.evaluation.aggregation import VideoScores
from videomae_tf.evaluation.inference import as_inference_model
from videomae_tf.evaluation.runner import predict_videos

__all__ = ["TestViews", "predict_files", "top_k_predictions", "views_dataset"]


@dataclasses.dataclass(frozen=True)
class TestViews:
    """How each video is cut into views: ``num_clips`` x ``num_crops``, every
    ``sampling_rate``-th frame, short side resized to ``short_side`` (the crop size when
    None). ``sampler``: "dense" (K400), "segment" (SSV2) or "uniform" (mmaction2
    UniformSample, MA-52). Defaults: official K400 5x3."""

    num_clips: int = 5
    num_crops: int = 3
    sampling_rate: int = 4
    short_side: int | None = None
    sampler: str = "dense"

    @property
    def per_video(self) -> int:
        return self.num_clips * self.num_crops


def views_dataset(records, clip_shape: Sequence[int], views: TestViews = TestViews(), *,
                      root=None, batch_size: int = 8, on_error: str = "skip", error_log=None,
                      backend: str = "auto", num_parallel_calls: int | None = None):
    """``data.pipeline.multiview_dataset`` with frames and crop size taken from
    ``clip_shape`` (T, H, W, C); the model's clips must be square (H == W)."""
    from videomae_tf.data.pipeline import multiview_dataset

    frames, height, width = (int(d) for d in clip_shape[:3])
    if height != width:
        raise InputError(f"multi-view testing cuts square crops, but the model takes "
                         f"{height}x{width} frames")
    short_side = views.short_side or height
    if short_side < height:
        raise InputError(f"short side {short_side} is smaller than the {height}-pixel crop")
    return multiview_dataset(records, root=root, num_frames=frames, sampling_rate=views.sampling_rate,
                        num_clips=views.num_clips, num_crops=views.num_crops,
                        short_side=short_side, crop_size=height, sampler=views.sampler,
                        batch_size=batch_size, on_error=on_error, error_log=error_log,
                        backend=backend, num_parallel_calls=num_parallel_calls)


def top_k_predictions(probs, class_names: Sequence[str] | None = None, k: int = 5) -> list[dict]:
    """The k best classes of one probability vector: [{class_id, name, probability}]."""
    probs = np.asarray(probs)
    order = np.argsort(-probs, kind="stable")[: min(k, len(probs))]
    return [{"class_id": int(c),
             "name": class_names[c] if class_names is not None else str(int(c)),
             "probability": float(probs[c])} for c in order]


def predict_files(model, paths: Sequence, class_names: Sequence[str] | None = None, *,
                  views: TestViews = TestViews(), topk: int = 5, batch_size: int = 8,
                  progress: bool = True, on_error: str = "raise", backend: str = "auto"
                  ) -> list[dict]:
    """Top-k classes of each video file with multi-view testing (per-view softmax, mean).

    Returns one dict per path, in order: ``path``, ``top`` (``top_k_predictions``),
    ``num_views``. With ``on_error="skip"`` a video that cannot be decoded gets
    ``top = None`` and an ``error``; by default it raises.
    """
    from videomae_tf.data.annotations import VideoRecord
    from videomae_tf.data.pipeline import DecodeErrorLog

    run = as_inference_model(model)
    if run.clip_shape is None:
        raise InputError("the model does not say which clip shape it takes")
    missing = [os.fspath(p) for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"no such video file: {', '.join(missing)}")
    if class_names is not None and run.num_classes and len(class_names) != run.num_classes:
        raise InputError(f"{len(class_names)} class names, but the model has {run.num_classes} "
                         "classes: wrong --labels?")
    records = [VideoRecord(os.fspath(p), 0) for p in paths]  # label unused
    errors = DecodeErrorLog()
    dataset = views_dataset(records, run.clip_shape, views, batch_size=batch_size,
                                on_error=on_error, error_log=errors, backend=backend)
    scores: VideoScores = predict_videos(run, dataset, total_views=len(records) * views.per_video,
                                         progress=progress, desc="predicting")
    row = {int(v): i for i, v in enumerate(scores.video_ids)}
    results = []
    for index, record in enumerate(records):
        if index in row:
            i = row[index]
            results.append({"path": record.path, "num_views": int(scores.num_views[i]),
                            "top": top_k_predictions(scores.probs[i], class_names, topk)})
        else:
            results.append({"path": record.path, "num_views": 0, "top": None,
                            "error": errors.failures.get(record.path, "no views decoded")})
    return results

"""MA-52 challenge outputs: the submission CSV and weighted score ensembles.

``write_submission`` writes one row per video, ``id,coarse,fine``: the video's file stem,
the coarse class that follows from the fine prediction (``data.ma52``) and the top-1 fine
class. ``ensemble`` combines the score files of several ``evaluate`` runs (each a model or
a modality) as a weighted mean of their per-video probabilities, the way the winning
solution fuses its RGB and optical-flow models.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.evaluation.aggregation import VideoScores
from videomae_tf.evaluation.dumps import load_scores_and_names
from videomae_tf.files import write_text_atomic

__all__ = ["ensemble", "submission_ids", "write_submission"]


def submission_ids(filenames: Sequence[str | None], video_ids: Sequence) -> list[str]:
    """The id of each video in a submission: its file stem, else its video id."""
    return [Path(name).stem if name else str(vid) for name, vid in zip(filenames, video_ids)]


def write_submission(path, ids: Sequence[str], fine_predictions: Sequence[int]) -> Path:
    """The MA-52 submission CSV (``id,coarse,fine``), written through a temporary name."""
    from videomae_tf.data.ma52 import coarse_of

    fine = np.asarray(fine_predictions, np.int64)
    if len(ids) != len(fine):
        raise InputError(f"{len(ids)} ids for {len(fine)} predictions")
    coarse = coarse_of(fine)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["id", "coarse", "fine"])
    writer.writerows(zip(ids, coarse.tolist(), fine.tolist()))
    return write_text_atomic(path, table.getvalue())


def ensemble(paths: Sequence, weights: Sequence[float] | None = None
             ) -> tuple[VideoScores, list]:
    """Weighted mean of the per-video probabilities in ``evaluate``'s score files.

    The files must score the same videos (matched by file name, else by video id) and the
    same classes; ``weights`` (default equal) are normalised to sum to 1. Returns the
    combined scores (labels kept when every file has the same ones) and the file names.
    """
    if not paths:
        raise InputError("ensemble needs at least one scores file")
    weights = [1.0] * len(paths) if weights is None else [float(w) for w in weights]
    if len(weights) != len(paths):
        raise InputError(f"{len(weights)} weights for {len(paths)} scores files")
    if any(not np.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(f"weights must be non-negative numbers with a positive sum, got "
                         f"{weights}")
    first, names = load_scores_and_names(paths[0])
    keys = _keys(first, names)
    total = np.zeros_like(first.probs)
    labels = first.labels
    for path, weight in zip(paths, weights):
        scores, their_names = load_scores_and_names(path)
        if scores.num_classes != first.num_classes:
            raise InputError(f"{path} scores {scores.num_classes} classes, {paths[0]} "
                             f"{first.num_classes}")
        position = {key: i for i, key in enumerate(_keys(scores, their_names))}
        missing = [key for key in keys if key not in position]
        if missing or len(position) != len(keys):
            raise InputError(f"{path} does not score the same videos as {paths[0]} (e.g. "
                             f"{(missing or sorted(set(position) - set(keys)))[0]})")
        order = np.asarray([position[key] for key in keys])
        total += weight * scores.probs[order]
        if labels is not None and (scores.labels is None
                                   or not np.array_equal(scores.labels[order], labels)):
            labels = None  # the files disagree on (or lack) the labels: score nothing
    combined = VideoScores(video_ids=first.video_ids, probs=total / sum(weights),
                           labels=labels, num_views=first.num_views)
    return combined, names


def _keys(scores: VideoScores, names: list) -> list:
    if all(names):
        return [str(n) for n in names]
    return [str(v) for v in scores.video_ids.tolist()]

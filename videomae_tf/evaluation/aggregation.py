"""Multi-view aggregation: many test views per video -> one score vector per video.

The official VideoMAE test (docs/numerics.md#test-views) takes the SOFTMAX OF EACH VIEW, THEN THE MEAN over
a video's views (worth about +0.5% top-1 over averaging logits). Views are keyed by
video id, so they may arrive in any order and split across batches. Sums are kept per
video rather than per view, so memory is O(videos x classes) however many views there are.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from videomae_tf.errors import InputError

__all__ = ["AGGREGATIONS", "VideoScores", "ViewAccumulator", "aggregate_views", "softmax"]

#: ``softmax_mean``: mean of per-view softmax (official). ``logit_mean``: mean of the
#: logits, then one softmax (mmaction2 ``average_clips='score'``), for comparison.
AGGREGATIONS = ("softmax_mean", "logit_mean")


def softmax(logits, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float64."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


@dataclasses.dataclass
class VideoScores:
    """Per-video results: ``probs[i]`` is the class distribution of video ``video_ids[i]``.

    ``labels`` is None when the views carried no labels; ``num_views[i]`` counts the
    views that went into video ``i``. Rows are sorted by video id.
    """

    video_ids: np.ndarray
    probs: np.ndarray
    labels: np.ndarray | None
    num_views: np.ndarray

    def __len__(self) -> int:
        return len(self.video_ids)

    @property
    def num_classes(self) -> int:
        return self.probs.shape[1]

    @property
    def predictions(self) -> np.ndarray:
        """Top-1 class per video."""
        return np.argmax(self.probs, axis=1)


def _key(value):
    return value.item() if isinstance(value, np.generic) else value


class ViewAccumulator:
    """Streams view scores in, keyed by video id; ``result()`` gives the per-video scores.

    ``add(logits, video_ids, labels=None, views=None)`` takes a batch of views. A video's
    label must be the same in every view, and a ``(video_id, view)`` pair may come only
    once (a repeated dataset would otherwise count views twice): both raise ValueError,
    and a rejected batch leaves the accumulator unchanged.
    """

    def __init__(self, aggregation: str = "softmax_mean"):
        if aggregation not in AGGREGATIONS:
            raise InputError(f"unknown aggregation '{aggregation}'; expected one of {AGGREGATIONS}")
        self.aggregation = aggregation
        self._row: dict = {}  # video id -> row of the buffers
        self._sums: np.ndarray | None = None
        self._counts = np.zeros(0, np.int64)
        self._labels = np.zeros(0, np.int64)
        self._has_labels: bool | None = None
        self._seen_views: set = set()
        self.num_views_total = 0

    def __len__(self) -> int:
        return len(self._row)

    def add(self, logits, video_ids, labels=None, views=None) -> None:
        """Add a batch: ``logits`` (B, C), ``video_ids`` (B,), optional ``labels``/``views`` (B,)."""
        logits = np.asarray(logits)
        if logits.ndim != 2:
            raise InputError(f"view scores must be (views, classes), got shape {logits.shape}")
        keys = [_key(v) for v in np.asarray(video_ids).reshape(-1)]
        if len(keys) != len(logits):
            raise InputError(f"{len(logits)} view scores but {len(keys)} video ids")
        if self._sums is not None and logits.shape[1] != self._sums.shape[1]:
            raise InputError(f"view scores have {logits.shape[1]} classes, earlier ones "
                             f"{self._sums.shape[1]}")
        if self._has_labels is not None and self._has_labels != (labels is not None):
            raise InputError("some batches have labels and some do not")
        if labels is not None:
            labels = self._checked_labels(np.asarray(labels).reshape(-1).astype(np.int64), keys)
        view_keys = self._checked_views(keys, views)

        # validated: now change state
        if self._sums is None:
            self._sums = np.zeros((0, logits.shape[1]), np.float64)
        self._has_labels = labels is not None
        self._seen_views.update(view_keys)
        rows = self._rows_for(keys)
        values = softmax(logits) if self.aggregation == "softmax_mean" else logits.astype(np.float64)
        np.add.at(self._sums, rows, values)
        np.add.at(self._counts, rows, 1)
        if labels is not None:
            self._labels[rows] = labels
        self.num_views_total += len(logits)

    def _checked_labels(self, labels, keys) -> np.ndarray:
        if len(labels) != len(keys):
            raise InputError(f"{len(keys)} views but {len(labels)} labels")
        if labels.size and labels.min() < 0:
            raise InputError(f"labels must be >= 0, got {int(labels.min())}")
        known = {}
        for key, label in zip(keys, labels.tolist()):
            row = self._row.get(key)
            before = known.get(key, int(self._labels[row]) if row is not None else -1)
            if before >= 0 and before != label:
                raise InputError(f"video {key!r} has views labelled {before} and {label}")
            known[key] = label
        return labels

    def _checked_views(self, keys, views) -> list:
        if views is None:
            return []
        view_keys = list(zip(keys, [_key(v) for v in np.asarray(views).reshape(-1)]))
        if len(view_keys) != len(keys):
            raise InputError(f"{len(keys)} views but {len(view_keys)} view indices")
        batch = set()
        for key in view_keys:
            if key in self._seen_views or key in batch:
                raise InputError(f"view {key[1]} of video {key[0]!r} was given twice "
                                 "(is the dataset repeated?)")
            batch.add(key)
        return view_keys

    def _rows_for(self, keys) -> np.ndarray:
        rows = np.empty(len(keys), np.int64)
        for i, key in enumerate(keys):
            row = self._row.get(key)
            if row is None:
                row = self._row[key] = len(self._row)
            rows[i] = row
        if len(self._row) > len(self._counts):  # grow the buffers geometrically
            old = len(self._counts)
            size = max(len(self._row), 2 * old, 64)
            sums = np.zeros((size, self._sums.shape[1]), np.float64)
            sums[:old] = self._sums[:old]
            self._sums = sums
            self._counts = np.concatenate([self._counts, np.zeros(size - old, np.int64)])
            self._labels = np.concatenate([self._labels, np.full(size - old, -1, np.int64)])
        return rows

    def result(self) -> VideoScores:
        """Per-video probabilities, sorted by video id."""
        if not self._row:
            raise InputError("no views were added: the dataset was empty, or every video "
                             "failed to decode")
        ids = list(self._row)
        try:
            order = sorted(range(len(ids)), key=lambda i: ids[i])
        except TypeError:  # ids of mixed types: keep arrival order
            order = list(range(len(ids)))
        rows = np.asarray([self._row[ids[i]] for i in order], np.int64)
        counts = self._counts[rows]
        means = self._sums[rows] / counts[:, None]
        probs = means if self.aggregation == "softmax_mean" else softmax(means)
        labels = self._labels[rows] if self._has_labels else None
        return VideoScores(video_ids=np.asarray([ids[i] for i in order]), probs=probs,
                           labels=labels, num_views=counts)


def aggregate_views(logits, video_ids, labels=None, views=None,
                    aggregation: str = "softmax_mean") -> VideoScores:
    """Aggregate a (V, C) matrix of view logits into per-video scores (see ViewAccumulator)."""
    acc = ViewAccumulator(aggregation)
    acc.add(logits, video_ids, labels=labels, views=views)
    return acc.result()

"""Confusion-matrix picture rendered with OpenCV (no plotting library needed).

Cells are coloured by the row-normalised rate (recall per true class), so rare and
frequent classes read the same way; counts are printed when cells are large enough and
class names when there are few enough classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.files import write_png

__all__ = ["render_confusion_matrix", "save_confusion_matrix"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)


def _text_size(text: str, scale: float) -> tuple[int, int]:
    (w, h), baseline = cv2.getTextSize(text, _FONT, scale, 1)
    return w, h + baseline


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "~"


def render_confusion_matrix(matrix, class_names: Sequence[str] | None = None,
                            title: str = "", max_size: int = 1400) -> np.ndarray:
    """Draw a (C, C) count matrix (rows true, columns predicted); returns a BGR uint8 image."""
    cm = np.asarray(matrix, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise InputError(f"confusion matrix must be square and non-empty, got shape {cm.shape}")
    n = cm.shape[0]
    names = [str(c) for c in range(n)] if class_names is None else [str(s) for s in class_names]
    if len(names) != n:
        raise InputError(f"{len(names)} class names for a {n}x{n} confusion matrix")
    cell = int(np.clip(max_size // n, 2, 48))
    show_names = cell >= 10
    labels = [_short(f"{i} {s}" if s != str(i) else s) for i, s in enumerate(names)]
    scale = float(np.clip(cell / 30.0, 0.3, 0.5))
    margin = (max(_text_size(s, scale)[0] for s in labels) + 8) if show_names else 24
    top = 40 + margin
    left = margin
    size = n * cell

    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    grey = np.round(rates * 255).astype(np.uint8)
    heat = cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS)
    heat = cv2.resize(heat, (size, size), interpolation=cv2.INTER_NEAREST)

    caption = "rows: true class, columns: predicted"
    heading = f"{title}  ({caption})" if title else f"confusion matrix ({caption})"
    width = max(left + size + 10, _text_size(heading, 0.5)[0] + 8)
    canvas = np.full((top + size + 10, width, 3), 255, np.uint8)
    canvas[top:top + size, left:left + size] = heat
    cv2.rectangle(canvas, (left - 1, top - 1), (left + size, top + size), _BLACK, 1)
    cv2.putText(canvas, heading, (4, 24), _FONT, 0.5, _BLACK, 1, cv2.LINE_AA)

    if show_names:
        # row names on the left, right-aligned
        for i, s in enumerate(labels):
            w, h = _text_size(s, scale)
            y = top + i * cell + (cell + h) // 2 - 2
            cv2.putText(canvas, s, (left - w - 4, y), _FONT, scale, _BLACK, 1, cv2.LINE_AA)
        # column names: drawn horizontally on a strip, then rotated to read bottom-up
        strip = np.full((size, margin, 3), 255, np.uint8)
        for j, s in enumerate(labels):
            w, h = _text_size(s, scale)
            y = j * cell + (cell + h) // 2 - 2
            cv2.putText(strip, s, (4, y), _FONT, scale, _BLACK, 1, cv2.LINE_AA)
        canvas[40:40 + margin, left:left + size] = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if cell >= 24:
        count_scale = float(np.clip(cell / 70.0, 0.3, 0.5))
        for i in range(n):
            for j in range(n):
                if cm[i, j] == 0:
                    continue
                text = str(int(cm[i, j]))
                w, h = _text_size(text, count_scale)
                colour = _BLACK if rates[i, j] > 0.6 else _WHITE
                cv2.putText(canvas, text, (left + j * cell + (cell - w) // 2,
                                           top + i * cell + (cell + h) // 2 - 2),
                            _FONT, count_scale, colour, 1, cv2.LINE_AA)
    return canvas


def save_confusion_matrix(path, matrix, class_names: Sequence[str] | None = None,
                          title: str = "") -> Path:
    """Render and write a PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_png(path, render_confusion_matrix(matrix, class_names, title))

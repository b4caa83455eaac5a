"""``curves.png``: a run's loss, top-1 and learning rate by epoch, drawn from its
``log.csv`` with OpenCV (no plotting library needed). Written at the end of every
``fit`` call, so a resumed run's picture shows the whole run."""

import csv
import math
from pathlib import Path

import cv2
import numpy as np

from videomae_tf.files import write_png

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PANEL_W, _PANEL_H, _MARGIN = 420, 300, 66
#: (column in log.csv, legend name, BGR colour)
_PANELS = (
    ("loss", (("train_loss", "train", (200, 90, 30)), ("val_loss", "validation", (40, 40, 220)))),
    ("top-1", (("train_top1", "train", (200, 90, 30)), ("val_top1", "validation", (40, 40, 220)))),
    ("learning rate (end of epoch)", (("lr", "lr", (60, 140, 60)),)),
)


def read_log(path):
    """The rows of a ``log.csv`` as dicts of floats (empty cells left out)."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]


def _label(value):
    return f"{value:.2e}" if value and (abs(value) < 1e-2 or abs(value) >= 1e4) else f"{value:.3g}"


def _panel(rows, title, series):
    image = np.full((_PANEL_H, _PANEL_W, 3), 255, np.uint8)
    cv2.putText(image, title, (_MARGIN, 22), _FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    left, top, right, bottom = _MARGIN, 36, _PANEL_W - 12, _PANEL_H - 40
    cv2.rectangle(image, (left, top), (right, bottom), (160, 160, 160), 1)
    points = [(column, name, colour, [(r["epoch"], r[column]) for r in rows
                                      if column in r and math.isfinite(r[column])])
              for column, name, colour in series]
    values = [v for *_, pts in points for _, v in pts]
    epochs = [e for *_, pts in points for e, _ in pts]
    if not values:
        cv2.putText(image, "no values logged", (left + 10, (top + bottom) // 2), _FONT, 0.5,
                    (120, 120, 120), 1, cv2.LINE_AA)
        return image
    low, high = min(values), max(values)
    if high - low < 1e-12:
        low, high = low - 0.5 * (abs(low) or 1), high + 0.5 * (abs(high) or 1)
    first, last = min(epochs), max(epochs)
    span = max(last - first, 1)

    def xy(epoch, value):
        x = left + (epoch - first) / span * (right - left)
        y = bottom - (value - low) / (high - low) * (bottom - top)
        return int(round(x)), int(round(y))

    for value, y in ((high, top), (low, bottom)):
        cv2.putText(image, _label(value), (4, y + 4), _FONT, 0.38, (80, 80, 80), 1, cv2.LINE_AA)
    cv2.putText(image, f"epoch {first:g}", (left, bottom + 16), _FONT, 0.4, (80, 80, 80), 1,
                cv2.LINE_AA)
    cv2.putText(image, f"{last:g}", (right - 24, bottom + 16), _FONT, 0.4, (80, 80, 80), 1,
                cv2.LINE_AA)
    for i, (_, name, colour, pts) in enumerate(points):
        line = [xy(e, v) for e, v in pts]
        if len(line) > 1:
            cv2.polylines(image, [np.array(line, np.int32)], False, colour, 2, cv2.LINE_AA)
        for point in line:
            cv2.circle(image, point, 3, colour, -1, cv2.LINE_AA)
        if pts:
            x = left + 8 + i * 120
            cv2.line(image, (x, bottom + 30), (x + 18, bottom + 30), colour, 2)
            cv2.putText(image, name, (x + 24, bottom + 34), _FONT, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def render_curves(rows, title="training curves"):
    """The picture (BGR uint8) of ``rows`` (``read_log``): loss, top-1 and lr panels."""
    panels = [_panel(rows, name, series) for name, series in _PANELS
              if any(column in r for column, *_ in series for r in rows)]
    if not panels:
        panels = [_panel(rows, "loss", _PANELS[0][1])]
    body = np.concatenate(panels, axis=1)
    heading = np.full((36, body.shape[1], 3), 255, np.uint8)
    cv2.putText(heading, title, (12, 25), _FONT, 0.7, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([heading, body], axis=0)


def save_curves(log_csv, path, title="training curves"):
    """Draw ``log_csv`` into ``path`` (PNG, written to a temporary name then renamed)."""
    path = Path(path)
    return write_png(path, render_curves(read_log(log_csv), title))

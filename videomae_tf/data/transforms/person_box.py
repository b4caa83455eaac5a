"""The MA-52 person crop box with the official MAC 2024 arithmetic (`determine_crop_region`).

The ``crop-persons`` command uses `videomae_tf.data.person_crop.crop_box` (exclusive
bounds, even sizes for encoders); this is the reference it is checked against, sharing its
padding and minimum ratio.
"""

from __future__ import annotations

import numpy as np

from videomae_tf.data.person_crop import MIN_RATIO, PAD


def person_crop_box(boxes: np.ndarray, image_h: int, image_w: int,
                    pad: tuple[int, int, int, int] = PAD,
                    min_aspect: float = MIN_RATIO) -> tuple[int, int, int, int]:
    """MA-52 person crop (docs/numerics.md#ma52), as the MAC 2024 `determine_crop_region`.

    Union of the (x1, y1, x2, y2) person boxes of all frames, padded (left, top, right,
    bottom), clipped to [0, W - 1] x [0, H - 1]; if width / height < min_aspect, widened
    once on both sides by int((h * min_aspect - w) / 2), clipped again (so a box at the
    frame edge may stay narrower, as in the official). No boxes: the whole frame.
    Returns (x1, y1, x2, y2); crop with frame[y1:y2, x1:x2].
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return 0, 0, int(image_w), int(image_h)
    left, top, right, bottom = pad
    x1 = max(0, int(boxes[:, 0].min()) - left)
    y1 = max(0, int(boxes[:, 1].min()) - top)
    x2 = min(image_w - 1, int(boxes[:, 2].max()) + right)
    y2 = min(image_h - 1, int(boxes[:, 3].max()) + bottom)
    w, h = x2 - x1, y2 - y1
    if h > 0 and w / h < min_aspect:
        widen = int((h * min_aspect - w) / 2)
        x1 = max(0, x1 - widen)
        x2 = min(image_w - 1, x2 + widen)
    return x1, y1, x2, y2

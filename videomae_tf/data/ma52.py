"""The MA-52 micro-action taxonomy (docs/numerics.md#ma52): 52 fine classes in 7 coarse body-part classes.

One table, shared by the coarse assisting head's losses, the F1_mean metric and the
submission writer: coarse class = the block of consecutive fine indices it falls in.
"""

from __future__ import annotations

import numpy as np

from videomae_tf.errors import InputError

NUM_FINE = 52
COARSE_NAMES = ("body", "head", "upper limb", "lower limb", "body-hand", "head-hand",
                "leg-hand")
NUM_COARSE = len(COARSE_NAMES)
#: The first fine index of each coarse class: fine 0-4 -> 0, 5-10 -> 1, ..., 48-51 -> 6.
COARSE_STARTS = (0, 5, 11, 24, 32, 38, 48)
FINE_TO_COARSE = tuple(sum(f >= start for start in COARSE_STARTS) - 1 for f in range(NUM_FINE))


def coarse_of(fine) -> np.ndarray:
    """Coarse class ids of fine class ids (any shape); a ValueError for ids outside 0-51."""
    fine = np.asarray(fine)
    if fine.size and (fine.min() < 0 or fine.max() >= NUM_FINE):
        raise InputError(f"MA-52 fine class ids are 0..{NUM_FINE - 1}, got "
                         f"{int(fine.min())}..{int(fine.max())}")
    return np.asarray(FINE_TO_COARSE)[fine]


def coarse_matrix(dtype: str = "float32") -> np.ndarray:
    """(52, 7) one-hot rows: fine probabilities (or soft labels) @ it = coarse ones."""
    matrix = np.zeros((NUM_FINE, NUM_COARSE), dtype)
    matrix[np.arange(NUM_FINE), FINE_TO_COARSE] = 1
    return matrix

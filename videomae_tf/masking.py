"""Token masks of VideoMAE (docs/numerics.md#masks): tube, random and running-cell. True = masked.

Masks are flat boolean vectors over the (T', H', W') token grid in raster order, time
outermost. Every mask of a kind and ratio hides the same number of tokens, so a batch
of them turns into static-shaped index tensors (``mask_to_indices``).

Two flavours of each generator:
  * numpy, seeded by a ``np.random.Generator``: ``tube_mask(grid, 0.9, rng)``;
  * TensorFlow, seeded by a stateless seed pair, usable inside ``tf.data`` maps and
    compiled code: ``tube_mask_tf(grid, 0.9, seed)``.
"""

import numpy as np

from videomae_tf.errors import InputError


def _grid(grid):
    """``grid`` as (T', H', W') positive ints: the token grid of a clip."""
    try:
        values = tuple(grid)
        ints = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(f"grid must be (T', H', W'), the clip's token grid (three positive "
                         f"integers), got {grid!r}") from None
    if len(ints) != 3 or any(v < 1 or v != value for v, value in zip(ints, values)):
        raise InputError(f"grid must be (T', H', W'), the clip's token grid (three positive "
                         f"integers), got {grid!r}")
    return ints


def check_ratio(ratio) -> float:
    """``ratio`` as a float in [0, 1): the share of tokens hidden (1 would hide them all)."""
    try:
        value = float(ratio)
    except (TypeError, ValueError):
        raise InputError(f"mask ratio must be a number in [0, 1), got {ratio!r}") from None
    if not 0.0 <= value < 1.0:
        raise InputError(f"mask ratio must be in [0, 1) (the share of tokens hidden), got {ratio}")
    return value


def num_masked(grid, ratio, kind="tube"):
    """How many tokens a mask of this kind hides."""
    ratio = check_ratio(ratio)
    t, h, w = _grid(grid)
    if kind == "tube":
        return t * int(ratio * h * w)
    if kind == "random":
        return int(ratio * t * h * w)
    if kind == "running_cell":
        counts = {int(m.sum()) for m in running_cell_maps(grid, ratio)}
        if len(counts) != 1:
            raise InputError(f"running-cell maps of grid {grid} hide unequal counts {counts}")
        return counts.pop()
    raise InputError(f"unknown mask kind {kind!r}: tube, random or running_cell")


def tube_mask(grid, ratio, rng):
    """VideoMAE's tube mask: int(ratio*H'*W') patches hidden, the same ones in every slot."""
    t, h, w = _grid(grid)
    spatial = np.zeros(h * w, dtype=bool)
    spatial[: int(ratio * h * w)] = True
    rng.shuffle(spatial)
    return np.tile(spatial, t)


def random_mask(grid, ratio, rng):
    """int(ratio * N) tokens hidden uniformly over the whole grid."""
    t, h, w = _grid(grid)
    mask = np.zeros(t * h * w, dtype=bool)
    mask[: int(ratio * t * h * w)] = True
    rng.shuffle(mask)
    return mask


def running_cell_maps(grid, ratio=0.5):
    """The four precomputed running-cell maps of VideoMAE V2, shape (4, N).

    A 2x2 cell holds the queue [1]*int(4*ratio) + [0]*rest; map p reads, in frame t,
    queue[(k + p + t + 1) mod 4] for k = 0..3, laid out 2x2 row-major and tiled over
    the H' x W' grid.
    """
    t, h, w = _grid(grid)
    ones = int(4 * ratio)
    queue = np.array([1] * ones + [0] * (4 - ones), dtype=bool)
    maps = []
    for start in range(4):
        frames = []
        for frame in range(t):
            pointer = start + frame + 1
            cell = queue[(np.arange(4) + pointer) % 4].reshape(2, 2)
            tiled = np.tile(cell, (-(-h // 2), -(-w // 2)))[:h, :w]
            frames.append(tiled.reshape(-1))
        maps.append(np.concatenate(frames))
    return np.stack(maps)


def running_cell_mask(grid, ratio, rng):
    """VideoMAE V2's decoder mask: one of the four running-cell maps, picked at random."""
    return running_cell_maps(grid, ratio)[rng.integers(4)]


MASKS = {"tube": tube_mask, "random": random_mask, "running_cell": running_cell_mask}


def make_mask(kind, grid, ratio, rng):
    """Dispatch by name: 'tube', 'random' or 'running_cell'."""
    if kind not in MASKS:
        raise InputError(f"unknown mask kind {kind!r}; known: {sorted(MASKS)}")
    return MASKS[kind](grid, check_ratio(ratio), rng)


def batch_masks(kind, grid, ratio, batch_size, seed=None):
    """(batch_size, N) masks of one kind, reproducible from ``seed``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    rng = np.random.default_rng(seed)
    return np.stack([make_mask(kind, grid, ratio, rng) for _ in range(batch_size)])


def mask_to_indices(mask, count=None, what="kept"):
    """Indices of the False (kept) entries of a mask, ascending: (..., count) int32.

    ``count`` (optional) is checked: every row must keep exactly that many tokens (they
    stack into a static shape). ``what`` names the tokens in the error.
    """
    mask = np.asarray(mask, dtype=bool)
    rows = mask.reshape(-1, mask.shape[-1])
    kept = [np.flatnonzero(~row) for row in rows]
    sizes = {len(k) for k in kept}
    if len(sizes) != 1 or (count is not None and sizes != {count}):
        expected = f"{count} in every row" if count is not None else "the same number in every row"
        raise InputError(f"the masks keep {sorted(sizes)} {what} tokens; expected {expected}")
    return np.stack(kept).astype(np.int32).reshape(mask.shape[:-1] + (len(kept[0]),))


def visible_and_reconstructed(encoder_mask, decoder_mask=None):
    """Boolean masks (B, N), True = masked -> (visible_index, reconstruct_index), each
    (B, K) int32: the tokens the encoder sees, and those the decoder predicts -- every
    encoder-masked token (V1), or with VideoMAE V2's decoder mask the tokens it keeps.

    Every sample must keep the same number (tube, random and running-cell masks all do).
    """
    encoder_mask = np.asarray(encoder_mask, dtype=bool)
    if encoder_mask.ndim == 1:
        encoder_mask = encoder_mask[None]
    decoder_hides = (~encoder_mask if decoder_mask is None
                     else np.asarray(decoder_mask, bool).reshape(encoder_mask.shape))
    return (mask_to_indices(encoder_mask, what="encoder-visible"),
            mask_to_indices(decoder_hides, what="reconstructed"))


# --- TensorFlow versions: for tf.data maps and compiled code --------------------------


def _tf():
    import tensorflow as tf

    return tf


def _shuffled_flags(size, hidden, seed):
    """A bool vector of ``size`` with ``hidden`` True entries at random places."""
    tf = _tf()
    order = tf.argsort(tf.random.stateless_uniform([size], seed=seed))
    return tf.scatter_nd(order[:hidden, None], tf.ones([hidden], tf.bool), [size])


def tube_mask_tf(grid, ratio, seed):
    """``tube_mask`` in TensorFlow; ``seed`` is a stateless seed pair (shape [2])."""
    tf = _tf()
    t, h, w = _grid(grid)
    return tf.tile(_shuffled_flags(h * w, int(ratio * h * w), seed), [t])


def random_mask_tf(grid, ratio, seed):
    """``random_mask`` in TensorFlow."""
    t, h, w = _grid(grid)
    return _shuffled_flags(t * h * w, int(ratio * t * h * w), seed)


def running_cell_mask_tf(grid, ratio, seed):
    """``running_cell_mask`` in TensorFlow."""
    tf = _tf()
    maps = tf.constant(running_cell_maps(grid, ratio))
    pick = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=4, dtype=tf.int32)
    return tf.gather(maps, pick)


def make_mask_tf(kind, grid, ratio, seed):
    generators = {"tube": tube_mask_tf, "random": random_mask_tf,
                  "running_cell": running_cell_mask_tf}
    if kind not in generators:
        raise InputError(f"unknown mask kind {kind!r}; known: {sorted(generators)}")
    return generators[kind](grid, check_ratio(ratio), seed)


def mask_to_indices_tf(mask, count):
    """Ascending indices of the ``count`` kept (False) tokens of a mask (..., N)."""
    tf = _tf()
    order = tf.argsort(tf.cast(mask, tf.int32), axis=-1, stable=True)
    return tf.cast(order[..., :count], tf.int32)

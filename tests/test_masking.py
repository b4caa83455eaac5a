"""Tube, random and running-cell masks (SPEC 6), numpy and TensorFlow flavours."""

import numpy as np
import pytest

from videomae_tf import masking

GRID = (8, 14, 14)


def test_tube_mask_counts_and_repeats_one_pattern_over_time():
    mask = masking.tube_mask(GRID, 0.9, np.random.default_rng(0))
    assert mask.shape == (1568,) and mask.dtype == bool
    slots = mask.reshape(8, 196)
    assert np.all(slots.sum(1) == 176)  # 20 visible per slot
    assert (~mask).sum() == 160
    assert np.all(slots == slots[0])


def test_tube_mask_for_vit_g_grid():
    mask = masking.tube_mask((8, 16, 16), 0.9, np.random.default_rng(0))
    assert mask.reshape(8, 256).sum(1).tolist() == [230] * 8
    assert (~mask).sum() == 208


def test_random_mask_count():
    mask = masking.random_mask(GRID, 0.9, np.random.default_rng(0))
    assert mask.sum() == int(0.9 * 1568)
    assert masking.num_masked(GRID, 0.9, "random") == 1411
    assert masking.num_masked(GRID, 0.9, "tube") == 1408


def test_masks_are_reproducible_from_a_seed_and_vary_across_samples():
    a = masking.batch_masks("tube", GRID, 0.9, 4, seed=3)
    b = masking.batch_masks("tube", GRID, 0.9, 4, seed=3)
    np.testing.assert_array_equal(a, b)
    assert len({row.tobytes() for row in a}) == 4


def test_running_cell_map_zero_matches_spec_pattern():
    maps = masking.running_cell_maps(GRID, 0.5)
    frames = maps[0].reshape(8, 14, 14)
    expected = [[[1, 0], [0, 1]], [[0, 0], [1, 1]], [[0, 1], [1, 0]], [[1, 1], [0, 0]]]
    for t, cell in enumerate(expected):
        np.testing.assert_array_equal(frames[t, :2, :2], cell)
        np.testing.assert_array_equal(frames[t], np.tile(cell, (7, 7)))
    np.testing.assert_array_equal(frames[4], frames[0])  # period 4 in time


def test_running_cell_maps_shift_with_start_pointer():
    maps = masking.running_cell_maps(GRID, 0.5).reshape(4, 8, 14, 14)
    for p in range(4):
        np.testing.assert_array_equal(maps[p, 0], maps[0, p])
    assert np.all(maps.reshape(4, -1).sum(1) == 784)


def test_running_cell_with_tube_gives_spec_token_counts():
    rng = np.random.default_rng(1)
    enc = masking.tube_mask(GRID, 0.9, rng)
    dec = masking.running_cell_mask(GRID, 0.5, rng)
    visible = (~enc).sum()
    reconstructed = (~dec).sum()
    assert (visible, reconstructed, visible + reconstructed) == (160, 784, 944)


def test_mask_to_indices_is_ascending_and_checks_counts():
    masks = masking.batch_masks("tube", GRID, 0.9, 3, seed=0)
    index = masking.mask_to_indices(masks, count=160)
    assert index.shape == (3, 160) and index.dtype == np.int32
    assert np.all(np.diff(index, axis=1) > 0)
    for row, mask in zip(index, masks):
        assert not mask[row].any()
    ragged = np.zeros((2, 10), bool)
    ragged[0, 0] = True
    with pytest.raises(ValueError, match="keep"):
        masking.mask_to_indices(ragged)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown mask kind"):
        masking.make_mask("cube", GRID, 0.5, np.random.default_rng(0))


@pytest.mark.parametrize("kind, ratio", [("tube", 0.9), ("random", 0.75), ("running_cell", 0.5)])
def test_tensorflow_masks_inside_a_tf_data_map(kind, ratio):
    import tensorflow as tf

    count = 1568 - masking.num_masked(GRID, ratio, kind)

    def add_mask(i):
        mask = masking.make_mask_tf(kind, GRID, ratio, tf.stack([i, tf.constant(7, tf.int64)]))
        return mask, masking.mask_to_indices_tf(mask, count)

    ds = tf.data.Dataset.range(4).map(add_mask)
    masks, indices = zip(*[(m.numpy(), k.numpy()) for m, k in ds])
    for mask, index in zip(masks, indices):
        assert mask.shape == (1568,) and (~mask).sum() == count
        np.testing.assert_array_equal(index, np.flatnonzero(~mask))
        if kind == "tube":
            assert np.all(mask.reshape(8, 196) == mask[:196])
        if kind == "running_cell":
            assert any(np.array_equal(mask, m) for m in masking.running_cell_maps(GRID, ratio))
    again = [m.numpy() for m, _ in ds]
    np.testing.assert_array_equal(np.stack(again), np.stack(masks))

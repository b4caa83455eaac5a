"""Frame samplers against the official code's behaviour and SPEC section 8's examples."""

import numpy as np
import pytest

from videomae_tf.data import sampling as S


def rng(seed=0):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------- VideoMAE dense (K400)

def test_dense_clip_spec_example_steps_of_4_27():
    # SPEC 8: a 64-frame window sampled 16 times gives steps of 4.27: 0,4,8,12,17,21,...,63.
    index = S.dense_clip_indices(100, end=64)
    assert index.tolist() == [0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63]
    assert index.dtype == np.int64 and index.shape == (16,)


def test_dense_clip_window_shifts_with_end():
    index = S.dense_clip_indices(300, end=200)
    expected = np.clip(np.linspace(136, 200, 16), 136, 199).astype(np.int64)
    np.testing.assert_array_equal(index, expected)
    assert index[0] == 136 and index[-1] == 199


@pytest.mark.parametrize("n, expected", [
    (64, [0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63]),  # n == 64: short branch
    (10, [0, 9] + [9] * 14),  # linspace(0, 10, 2) padded with 10, clipped to 9
    (3, [2] * 16),  # n // 4 == 0: all padding
    (1, [0] * 16),
])
def test_dense_short_video_padding(n, expected):
    assert S.dense_clip_indices(n, None).tolist() == expected
    assert S.dense_train_indices(n, rng()).tolist() == expected


def test_dense_short_video_general_formula():
    for n in (20, 33, 47, 63):
        index = np.linspace(0, n, n // 4)
        index = np.concatenate((index, np.ones(16 - n // 4) * n))
        expected = np.clip(index, 0, n - 1).astype(np.int64)
        np.testing.assert_array_equal(S.dense_clip_indices(n, None), expected)


def test_dense_train_draws_end_like_official():
    # The end is rng.integers(64, n): replaying the draw reproduces the clip.
    for seed in range(20):
        end = int(rng(seed).integers(64, 280))
        np.testing.assert_array_equal(S.dense_train_indices(280, rng(seed)),
                                      S.dense_clip_indices(280, end))


def test_dense_train_covers_valid_windows():
    g = rng(1)
    firsts = set()
    for _ in range(3000):
        index = S.dense_train_indices(70, g)
        assert index[0] >= 0 and index[-1] <= 68  # end in [64, 70) -> last <= end - 1 <= 68
        assert np.all(np.diff(index) >= 4)
        firsts.add(int(index[0]))
    assert firsts == set(range(0, 6))  # starts 0..5


def test_dense_clip_rejects_bad_end():
    with pytest.raises(ValueError, match="window end"):
        S.dense_clip_indices(100, end=100)
    with pytest.raises(ValueError, match="at least 1 frame"):
        S.dense_clip_indices(0, None)


def test_dense_val_official_random_and_deterministic_centre():
    np.testing.assert_array_equal(S.dense_val_indices(280, rng(3)), S.dense_train_indices(280, rng(3)))
    np.testing.assert_array_equal(S.dense_val_indices(280), S.dense_clip_indices(280, (280 + 64) // 2))
    np.testing.assert_array_equal(S.dense_val_indices(40), S.dense_clip_indices(40, None))


def test_dense_test_spec_geometry():
    # every 4th frame of 300 -> 75 entries; starts int(k * 59 / 4) = 0, 14, 29, 44, 59.
    clips = S.dense_test_indices(300)
    assert clips.shape == (5, 16) and clips.dtype == np.int64
    assert clips[:, 0].tolist() == [0, 56, 116, 176, 236]
    np.testing.assert_array_equal(clips[2], 116 + 4 * np.arange(16))


def test_dense_test_short_video_pads_with_last():
    clips = S.dense_test_indices(30)  # range(0, 30, 4) = 0..28 (8 entries) padded with 28
    expected = [0, 4, 8, 12, 16, 20, 24, 28] + [28] * 8
    assert clips.tolist() == [expected] * 5


# ----------------------------------------------------------------- pretraining window

def test_pretrain_window_fixed_start():
    assert S.pretrain_window_indices(200, None, start=10).tolist() == list(range(10, 74, 4))
    assert S.pretrain_window_indices(64, None, start=0).tolist() == list(range(0, 64, 4))


def test_pretrain_window_random_contiguous_in_bounds():
    g = rng(2)
    starts = set()
    for _ in range(2000):
        index = S.pretrain_window_indices(70, g)
        assert np.all(np.diff(index) == 4) and index[0] >= 0 and index[-1] <= 69
        starts.add(int(index[0]))
    assert starts == set(range(0, 7))  # n - 64 + 1 = 7 possible windows


@pytest.mark.parametrize("n, rate, expected", [
    (10, 4, [0, 4, 8] + [8] * 13),  # official loop stops once offset + 4 >= n
    (9, 4, [0, 4] + [4] * 14),  # 1-based offset 5: 5 + 4 < 9 fails, so 8 is never reached
    (20, 2, list(range(0, 20, 2)) + [18] * 6),
    (1, 4, [0] * 16),
])
def test_pretrain_window_short_video_padding(n, rate, expected):
    assert S.pretrain_window_indices(n, rng(), frame_sample_rate=rate).tolist() == expected


def test_pretrain_window_ssv2_rate_2():
    index = S.pretrain_window_indices(100, None, frame_sample_rate=2, start=5)
    assert index.tolist() == list(range(5, 37, 2))


# ----------------------------------------------------------------- SSV2 segments

def test_segment_train_one_frame_per_segment():
    g = rng(4)
    for n in (16, 50, 117):
        avg = n // 16
        for _ in range(50):
            index = S.segment_train_indices(n, g)
            assert index.shape == (16,) and index.dtype == np.int64
            np.testing.assert_array_less(index, (np.arange(16) + 1) * avg)
            assert np.all(index >= np.arange(16) * avg)


def test_segment_train_short_video_zeros():
    assert S.segment_train_indices(7, rng()).tolist() == [0] * 16


def test_segment_test_starts_and_centres():
    n = 50
    tick = n / 16
    clips = S.segment_test_indices(n)
    assert clips.shape == (2, 16)
    assert clips[0].tolist() == [int(tick * i) for i in range(16)]
    assert clips[1].tolist() == [int(tick / 2 + tick * i) for i in range(16)]


# ----------------------------------------------------------------- mmaction2

def test_uniform_sample_spec_example():
    clips = S.uniform_sample(75, 16, num_clips=1, test_mode=True)
    assert clips.tolist() == [[2, 7, 11, 16, 20, 25, 30, 34, 39, 44, 48, 53, 58, 62, 67, 71]]


def test_uniform_sample_half_to_even_and_clips():
    # 75 frames: seg = 4.625, seg * 4 = 18.5 rounds to 18 (half-to-even), not 19.
    clips = S.uniform_sample(75, 16, num_clips=2, test_mode=True)
    seg = 74 / 16
    starts = [int(np.round(seg * i)) for i in range(16)]
    assert starts[4] == 18
    for k in range(2):
        assert clips[k].tolist() == [s + int(seg / 3 * (k + 1)) for s in starts]


def test_uniform_sample_train_within_segments():
    g = rng(5)
    seg = 74 / 16
    low = np.round(seg * np.arange(16))
    high = np.round(seg * np.arange(1, 17))
    draws = S.uniform_sample(75, 16, num_clips=500, rng=g)
    assert draws.shape == (500, 16)
    assert np.all(draws >= low) and np.all(draws <= high)
    assert np.all(draws.min(axis=0) == low) and np.all(draws.max(axis=0) == high)
    with pytest.raises(ValueError, match="rng"):
        S.uniform_sample(75)


def test_sample_frames_spec_example():
    clips = S.sample_frames(280, 16, frame_interval=4, num_clips=5, test_mode=True)
    assert clips[:, 0].tolist() == [0, 55, 110, 164, 219]
    np.testing.assert_array_equal(clips, clips[:, :1] + 4 * np.arange(16))
    assert clips.max() == 279  # the last clip ends exactly at the last frame


def test_sample_frames_wraps_modulo():
    clips = S.sample_frames(40, 16, 4, num_clips=5, test_mode=True)
    np.testing.assert_array_equal(clips, np.tile((4 * np.arange(16)) % 40, (5, 1)))
    last = S.sample_frames(40, 16, 4, num_clips=1, test_mode=True, out_of_bound="repeat_last")
    assert last.tolist() == [[0, 4, 8, 12, 16, 20, 24, 28, 32, 36] + [36] * 6]


def test_sample_frames_single_test_clip_centred():
    clips = S.sample_frames(100, 16, 4, num_clips=1, test_mode=True)
    assert clips[0, 0] == (100 - 61) // 2


def test_sample_frames_train_offsets():
    g = rng(6)
    clips = S.sample_frames(280, 16, 4, num_clips=1, rng=g)
    assert clips.shape == (1, 16) and 0 <= clips[0, 0] <= 280 - 64
    offsets = np.array([S.sample_frames(280, 16, 4, num_clips=2, rng=g)[:, 0] for _ in range(300)])
    avg = (280 - 64 + 1) // 2
    assert np.all(offsets[:, 0] < avg) and np.all((offsets[:, 1] >= avg) & (offsets[:, 1] < 2 * avg))
    # shorter than the span: all offsets 0, indices wrap
    short = S.sample_frames(30, 16, 4, num_clips=1, rng=g)
    np.testing.assert_array_equal(short[0], (4 * np.arange(16)) % 30)


def test_samplers_deterministic_under_seed():
    for fn in (lambda g: S.dense_train_indices(500, g), lambda g: S.pretrain_window_indices(500, g),
               lambda g: S.segment_train_indices(500, g),
               lambda g: S.uniform_sample(500, 16, 3, rng=g),
               lambda g: S.sample_frames(500, 16, 4, 3, rng=g)):
        np.testing.assert_array_equal(fn(rng(9)), fn(rng(9)))

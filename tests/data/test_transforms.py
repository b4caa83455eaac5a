"""Clip transforms: crop geometry, RandAugment, erasing, normalisation, mixup/cutmix."""


import cv2
import numpy as np
import pytest

from videomae_tf.data import transforms as T


def rng(seed=0):
    return np.random.default_rng(seed)


def random_clip(t=4, h=48, w=64, seed=0):
    return rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def smooth_clip(t=4, h=48, w=64):
    """A clip with spatial structure (so geometric ops are visible) and distinct frames."""
    y, x = np.mgrid[0:h, 0:w]
    frames = [np.stack([(x * 4 + 7 * k) % 256, (y * 5 + 3 * k) % 256, ((x + y) * 2) % 256], -1)
              for k in range(t)]
    return np.stack(frames).astype(np.uint8)


# ----------------------------------------------------------------- resize / crops

@pytest.mark.parametrize("hw, floor, rnd", [
    ((240, 320), (224, 298), (224, 299)),  # 298.67: VideoMAE floors, mmaction2 rounds
    ((256, 340), (224, 297), (224, 298)),  # 297.5
    ((360, 640), (224, 398), (224, 398)),
    ((1296, 1080), (268, 224), (269, 224)),  # portrait
])
def test_short_side_size(hw, floor, rnd):
    assert T.short_side_size(*hw, 224, "floor") == floor
    assert T.short_side_size(*hw, 224, "round") == rnd


def test_resize_matches_per_frame_cv2():
    clip = random_clip()
    out = T.resize_short_side(clip, 32)
    assert out.shape == (4, 32, 42, 3)
    for t in range(4):
        np.testing.assert_array_equal(out[t], cv2.resize(clip[t], (42, 32), interpolation=cv2.INTER_LINEAR))
    assert T.resize_short_side(out, 32) is out  # already the size: unchanged, as VideoMAE


def test_center_crop_rounding_conventions():
    # (299 - 224) / 2 = 37.5: VideoMAE's Python round gives 38 (half-to-even), mmaction2 37.
    assert T.center_crop_box(224, 299, 224, "round") == (0, 38, 224, 224)
    assert T.center_crop_box(224, 299, 224, "floor") == (0, 37, 224, 224)
    assert T.center_crop_box(224, 297, 224, "round") == (0, 36, 224, 224)  # 36.5 -> 36
    clip = random_clip(h=30, w=40)
    np.testing.assert_array_equal(T.center_crop(clip, 20), clip[:, 5:25, 10:30])
    with pytest.raises(ValueError, match="larger"):
        T.center_crop_box(20, 20, 24)


def test_three_crop_orders():
    # VideoMAE: int(s * (long - 224) / 2): left, middle, right.
    assert T.three_crop_offsets(224, 298, 224, "videomae") == [(0, 0), (0, 37), (0, 74)]
    assert T.three_crop_offsets(224, 299, 224, "videomae") == [(0, 0), (0, 37), (0, 75)]
    # mmaction2 ThreeCrop: left, right (2 * step), middle (step), step = (long - 224) // 2.
    assert T.three_crop_offsets(224, 299, 224, "mmaction2") == [(0, 0), (0, 74), (0, 37)]
    # portrait: along the height
    assert T.three_crop_offsets(268, 224, 224, "videomae") == [(0, 0), (22, 0), (44, 0)]
    assert T.three_crop_offsets(268, 224, 224, "mmaction2") == [(0, 0), (44, 0), (22, 0)]
    with pytest.raises(ValueError, match="short side"):
        T.three_crop_offsets(256, 340, 224)
    clip = random_clip(h=24, w=40)
    crops = T.three_crop(clip, 24)
    np.testing.assert_array_equal(crops[2], clip[:, :, 16:40])


def test_test_views_5x3_geometry():
    views = T.view_geometries(300, 240, 320)
    assert len(views) == 15
    assert [(v.clip_index, v.crop_index) for v in views] == [(k, s) for k in range(5) for s in range(3)]
    assert [int(v.frame_indices[0]) for v in views[::3]] == [0, 56, 116, 176, 236]
    assert all(v.resized_hw == (224, 298) for v in views)
    assert [v.box for v in views[:3]] == [(0, 0, 224, 224), (0, 37, 224, 224), (0, 74, 224, 224)]
    mm = T.view_geometries(280, 240, 320, convention="mmaction2")
    assert [int(v.frame_indices[0]) for v in mm[::3]] == [0, 55, 110, 164, 219]
    assert mm[0].resized_hw == (224, 299) and [v.box[1] for v in mm[:3]] == [0, 74, 37]


def test_apply_view_is_resize_then_crop():
    frames = random_clip(t=16, h=60, w=80)
    view = T.view_geometries(64, 60, 80, short_side=32, crop_size=32)[5]
    out = T.apply_view(frames, view)
    assert out.shape == (16, 32, 32, 3)
    np.testing.assert_array_equal(out, T.crop(T.resize(frames, *view.resized_hw), view.box))


# ----------------------------------------------------------------- random resized crop

def test_random_resized_crop_box_statistics():
    g = rng(1)
    h, w = 300, 300  # square, so rejections of too-wide and too-tall crops balance
    areas, ratios = [], []
    for _ in range(3000):
        top, left, ch, cw = T.random_resized_crop_box(h, w, g)
        assert 0 <= top and top + ch <= h and 0 <= left and left + cw <= w
        areas.append(ch * cw / (h * w))
        ratios.append(cw / ch)
    areas, ratios = np.array(areas), np.array(ratios)
    assert areas.min() >= 0.08 * 0.9 and areas.max() <= 1.0
    assert ratios.min() >= 0.75 * 0.95 and ratios.max() <= 4 / 3 * 1.05
    # uniform area in [0.08, 1] (minus rejected large crops) and log-uniform ratio
    assert 0.4 < areas.mean() < 0.55
    assert abs(np.median(np.log(ratios))) < 0.05


def test_random_resized_crop_fallback_centre():
    # impossible scale -> torchvision fallback: centre crop clamped to the ratio range
    assert T.random_resized_crop_box(100, 1000, rng(), scale=(2.0, 3.0)) == (0, 433, 100, 133)
    assert T.random_resized_crop_box(120, 100, rng(), scale=(2.0, 3.0)) == (0, 0, 120, 100)


def test_random_resized_crop_same_box_every_frame():
    frame = random_clip(t=1, h=64, w=80)[0]
    clip = np.stack([frame] * 5)
    out = T.random_resized_crop(clip, rng(3), size=32)
    assert out.shape == (5, 32, 32, 3) and out.dtype == np.uint8
    assert all(np.array_equal(out[0], out[t]) for t in range(5))
    # deterministic: same seed, same result; replaying the box reproduces it
    box = T.random_resized_crop_box(64, 80, rng(3))
    np.testing.assert_array_equal(out, T.resize(T.crop(clip, box), 32, 32))


# ----------------------------------------------------------------- multi-scale crop

def test_fix_crop_offsets_13_official_order():
    offsets = T.fix_crop_offsets(340, 256, 224, 224)  # w_step 29, h_step 8
    assert offsets == [(0, 0), (116, 0), (0, 32), (116, 32), (58, 16), (0, 16), (116, 16),
                       (58, 32), (58, 0), (29, 8), (87, 8), (29, 24), (87, 24)]
    assert len(T.fix_crop_offsets(340, 256, 224, 224, more_fix_crop=False)) == 5


def test_multi_scale_crop_box_choices():
    g = rng(4)
    h, w = 256, 340
    sizes = [int(256 * s) for s in (1, 0.875, 0.75, 0.66)]  # 256, 224, 192, 168
    seen = set()
    for _ in range(2000):
        top, left, ch, cw = T.multi_scale_crop_box(h, w, g)
        i, j = sizes.index(ch), sizes.index(cw)
        assert abs(i - j) <= 1
        assert (left, top) in T.fix_crop_offsets(w, h, cw, ch)
        seen.add((ch, cw))
    assert len(seen) == 10  # 4 + 2 * 3 pairs with max_distort 1
    out = T.multi_scale_crop(random_clip(t=3, h=h, w=w), rng(5), 224)
    assert out.shape == (3, 224, 224, 3)


def test_multi_scale_snaps_to_input_size():
    # int(226 * 1) = 226 is within 3 px of 224 -> snapped to 224
    boxes = {T.multi_scale_crop_box(226, 300, rng(s))[2:] for s in range(200)}
    assert (224, 224) in boxes and all(226 not in b for b in boxes)


def test_horizontal_flip():
    clip = random_clip()
    np.testing.assert_array_equal(T.horizontal_flip(clip, rng(), 1.0), clip[:, :, ::-1])
    assert T.horizontal_flip(clip, rng(), 0.0) is clip
    flips = sum(T.horizontal_flip(clip, g, 0.5) is not clip for g in [rng(s) for s in range(400)])
    assert 150 < flips < 250


# ----------------------------------------------------------------- RandAugment

def test_parse_rand_augment():
    cfg = T.parse_rand_augment("rand-m7-n4-mstd0.5-inc1")
    assert (cfg.magnitude, cfg.num_layers, cfg.magnitude_std, cfg.prob) == (7, 4, 0.5, 0.5)
    assert cfg.ops == T.RAND_INCREASING_OPS and len(cfg.ops) == 15
    assert T.parse_rand_augment("rand-m9-n2-inc0").ops == T.RAND_OPS
    with pytest.raises(ValueError):
        T.parse_rand_augment("auto-m9")


def test_rand_augment_plan_statistics():
    counts, applied, mags = {}, 0, []
    for s in range(600):
        plan = T.rand_augment_plan(rng(s))
        applied += len(plan)
        for name, args in plan:
            counts[name] = counts.get(name, 0) + 1
            if name == "Rotate":
                mags.append(abs(args[0]) / 3.0)  # degrees = m / 10 * 30
    assert set(counts) == set(T.RAND_INCREASING_OPS)
    assert 0.45 < applied / (600 * 4) < 0.55  # each of the 4 ops applied with p = 0.5
    mags = np.array(mags)
    assert abs(mags.mean() - 7.0) < 0.15 and 0.35 < mags.std() < 0.65  # gauss(7, 0.5)


def test_rand_augment_same_ops_for_every_frame():
    # A clip of identical frames stays identical, for every op, including the ones with
    # per-frame statistics, and applying to the whole clip equals applying the same draw
    # frame by frame.
    frame = smooth_clip(t=1, h=40, w=56)[0]
    same = np.stack([frame] * 4)
    clip = smooth_clip(t=4, h=40, w=56)
    for seed in range(40):
        out = T.rand_augment(same, rng(seed), "rand-m9-n4-mstd0.5-inc1")
        assert all(np.array_equal(out[0], out[t]) for t in range(4))
        whole = T.rand_augment(clip, rng(seed))
        per_frame = [T.rand_augment(clip[t:t + 1], rng(seed))[0] for t in range(4)]
        np.testing.assert_array_equal(whole, np.stack(per_frame))


def test_rand_augment_deterministic_under_seed():
    clip = random_clip()
    np.testing.assert_array_equal(T.rand_augment(clip, rng(7)), T.rand_augment(clip, rng(7)))
    outs = {T.rand_augment(clip, rng(s)).tobytes() for s in range(10)}
    assert len(outs) > 5


def op(name, clip, *args):
    return T.randaugment._NAME_TO_OP[name](clip, *args, fill=T.VIDEOMAE_FILL_RGB, interpolation=cv2.INTER_CUBIC)


def test_rand_augment_lut_ops():
    clip = random_clip()
    np.testing.assert_array_equal(op("Invert", clip), 255 - clip)
    np.testing.assert_array_equal(op("SolarizeIncreasing", clip, 100), np.where(clip < 100, clip, 255 - clip))
    np.testing.assert_array_equal(op("PosterizeIncreasing", clip, 2), clip & 0b11000000)
    np.testing.assert_array_equal(op("PosterizeIncreasing", clip, 0), np.zeros_like(clip))
    add = np.where(clip < 128, np.minimum(255, clip.astype(int) + 50), clip)
    np.testing.assert_array_equal(op("SolarizeAdd", clip, 50), add)
    assert T.randaugment._LEVEL_TO_ARG["SolarizeIncreasing"](0.0, rng()) == (256,)  # no-op at m = 0
    assert T.randaugment._LEVEL_TO_ARG["PosterizeIncreasing"](7.0, rng()) == (2,)


def pil_equalize_channel(channel):
    """A line-by-line port of PIL `ImageOps.equalize` for one band."""
    h = np.bincount(channel.ravel(), minlength=256).tolist()
    histo = [v for v in h if v]
    if len(histo) <= 1:
        return channel
    step = (sum(histo) - histo[-1]) // 255
    if not step:
        return channel
    lut, n = [], step // 2
    for i in range(256):
        lut.append(min(255, n // step))
        n += h[i]
    return np.asarray(lut, np.uint8)[channel]


def test_equalize_and_autocontrast_match_pil_recipes():
    clip = (random_clip(t=2, h=20, w=30) // 3 + 40).astype(np.uint8)  # values 40..125
    eq = op("Equalize", clip)
    for t in range(2):
        for c in range(3):
            np.testing.assert_array_equal(eq[t, :, :, c], pil_equalize_channel(clip[t, :, :, c]))
    ac = op("AutoContrast", clip)
    assert ac.min() == 0 and ac.max() == 255
    lo, hi = clip[0, :, :, 0].min(), clip[0, :, :, 0].max()
    expected = np.clip(np.trunc(clip[0, :, :, 0] * (255 / (hi - lo)) - lo * (255 / (hi - lo))), 0, 255)
    np.testing.assert_array_equal(ac[0, :, :, 0], expected.astype(np.uint8))
    flat = np.full((1, 8, 8, 3), 77, np.uint8)
    np.testing.assert_array_equal(op("AutoContrast", flat), flat)


def test_enhance_ops_identity_and_extremes():
    clip = random_clip()
    for name in ("ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing"):
        np.testing.assert_array_equal(op(name, clip, 1.0), clip)
    np.testing.assert_array_equal(op("BrightnessIncreasing", clip, 0.0), np.zeros_like(clip))
    # Brightness 0.5 truncates like PIL: int(0.5 * x)
    np.testing.assert_array_equal(op("BrightnessIncreasing", clip, 0.5), clip // 2)
    gray = op("ColorIncreasing", clip, 0.0)
    assert np.all(gray[..., 0] == gray[..., 1]) and np.all(gray[..., 1] == gray[..., 2])
    flat = op("ContrastIncreasing", clip, 0.0)
    assert all(len(np.unique(flat[t])) == 1 for t in range(len(clip)))  # mean grey per frame
    sharp = op("SharpnessIncreasing", clip, 0.0)
    np.testing.assert_array_equal(sharp[:, 0], clip[:, 0])  # PIL leaves borders unfiltered
    np.testing.assert_array_equal(sharp[:, :, -1], clip[:, :, -1])


def test_geometric_ops_pil_conventions():
    clip = smooth_clip(t=2, h=40, w=40)
    # TranslateXRel: output x samples input x + pct * W; integer shifts are exact.
    out = op("TranslateXRel", clip, 0.25)
    np.testing.assert_array_equal(out[:, :, :30], clip[:, :, 10:])
    assert np.all(out[:, :, 30:] == np.array(T.VIDEOMAE_FILL_RGB, np.uint8))  # PIL: fill iff outside
    out = op("TranslateYRel", clip, -0.25)
    np.testing.assert_array_equal(out[:, 10:], clip[:, :30])
    # Rotate: positive degrees turn counter-clockwise about the centre, as PIL.
    np.testing.assert_array_equal(op("Rotate", clip, 90.0), np.rot90(clip, 1, axes=(1, 2)))
    # ShearX: PIL maps pixel centres, so output (x, y) samples input x + f * (y + 0.5):
    # with f = 0.4, row 2 shifts by 1 and row 12 by 5.
    out = op("ShearX", clip, 0.4)
    np.testing.assert_array_equal(out[:, 2, :39], clip[:, 2, 1:])
    np.testing.assert_array_equal(out[:, 12, :35], clip[:, 12, 5:])
    out = op("ShearY", clip, -0.4)
    np.testing.assert_array_equal(out[:, 5:, 12], clip[:, :35, 12])


# ----------------------------------------------------------------- erasing, normalisation

def test_normalize_matches_direct_numpy():
    clip = random_clip()
    expected = ((clip / 255.0 - np.array(T.IMAGENET_MEAN)) / np.array(T.IMAGENET_STD)).astype(np.float32)
    out = T.normalize(clip)
    assert out.dtype == np.float32 and out.shape == clip.shape
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(T.normalize(clip[:, ::2, ::-1]), expected[:, ::2, ::-1])  # views
    np.testing.assert_allclose(T.normalize(clip.astype(np.float32)), expected, rtol=1e-6, atol=1e-6)


def test_random_erasing_same_box_every_frame():
    clip = np.zeros((6, 40, 50, 3), np.float32)
    for seed in range(30):
        out = T.random_erasing(clip, rng(seed), prob=1.0)
        mask = np.any(out != 0, axis=-1)  # noise is never exactly 0
        assert mask.any()
        assert all(np.array_equal(mask[0], mask[t]) for t in range(6))
        ys, xs = np.nonzero(mask[0])
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert mask[0].sum() == h * w  # one rectangle
        assert 0.02 * 2000 * 0.8 <= h * w <= 2000 / 3 * 1.2
        assert not np.array_equal(out[0], out[1])  # fresh per-pixel noise in each frame
    assert np.array_equal(T.random_erasing(clip, rng(), prob=0.0), clip)
    np.testing.assert_array_equal(T.random_erasing(clip, rng(3), prob=1.0), T.random_erasing(clip, rng(3), prob=1.0))
    erased = sum(np.any(T.random_erasing(clip, g, prob=0.25)) for g in [rng(s) for s in range(400)])
    assert 70 < erased < 130


def test_random_erasing_const_and_input_untouched():
    clip = np.ones((2, 20, 20, 3), np.float32)
    out = T.random_erasing(clip, rng(1), prob=1.0, mode="const")
    assert np.all(clip == 1) and (out == 0).any() and set(np.unique(out)) <= {0.0, 1.0}


# ----------------------------------------------------------------- mixup / cutmix

def two_class_batch(b=4, t=3, h=20, w=24):
    clips = np.zeros((b, t, h, w, 3), np.float32)
    clips[: b // 2] = 1.0  # first half ones, second half zeros; pairs (b, B-1-b) differ
    labels = np.array([0] * (b // 2) + [1] * (b // 2))
    return clips, labels


def test_smooth_one_hot():
    y = T.smooth_one_hot(np.array([2, 0]), 4, 0.1)
    np.testing.assert_allclose(y, [[0.025, 0.025, 0.925, 0.025], [0.925, 0.025, 0.025, 0.025]])


def test_cutmix_lam_matches_box_area_and_same_box_every_frame():
    clips, labels = two_class_batch()
    for seed in range(30):
        out, target = T.mixup_cutmix(clips, labels, rng(seed), 2, switch_prob=1.0, label_smoothing=0.0)
        np.testing.assert_allclose(target.sum(1), 1.0, rtol=1e-6)
        pasted = out[0, ..., 0] == 0.0  # sample 0 (ones) receives zeros from sample 3 in the box
        assert all(np.array_equal(pasted[0], pasted[t]) for t in range(3))
        lam = 1.0 - pasted[0].mean()
        np.testing.assert_allclose(target[0], [lam, 1 - lam], rtol=1e-5, atol=1e-6)


def test_mixup_blend_consistent_with_targets():
    clips, labels = two_class_batch()
    for seed in range(10):
        out, target = T.mixup_cutmix(clips, labels, rng(seed), 2, switch_prob=0.0, label_smoothing=0.1)
        np.testing.assert_allclose(target.sum(1), 1.0, rtol=1e-6)
        lam = float(out[0, 0, 0, 0, 0])  # 1 * lam + 0 * (1 - lam)
        assert np.allclose(out[0], lam) and np.allclose(out[-1], 1 - lam)
        expected = np.array([0.95, 0.05]) * lam + np.array([0.05, 0.95]) * (1 - lam)
        np.testing.assert_allclose(target[0], expected, rtol=1e-5)


def test_mixup_prob_zero_and_errors():
    clips, labels = two_class_batch()
    out, target = T.mixup_cutmix(clips, labels, rng(), 2, prob=0.0)
    np.testing.assert_array_equal(out, clips)
    np.testing.assert_allclose(target, T.smooth_one_hot(labels, 2, 0.1))
    with pytest.raises(ValueError, match="even"):
        T.mixup_cutmix(clips[:3], labels[:3], rng(), 2)
    both = [T.mixing._mix_params(rng(s), 0.8, 1.0, 1.0, 0.5)[1] for s in range(400)]
    assert 150 < sum(both) < 250  # switch_prob 0.5


def test_mixup_cutmix_tf_matches_semantics():
    tf = pytest.importorskip("tensorflow")
    clips, labels = two_class_batch()
    kinds = set()
    for s in range(12):
        out, target = T.mixup_cutmix_tf(tf.constant(clips), tf.constant(labels), tf.constant([7, s]), 2,
                                        label_smoothing=0.0)
        out, target = out.numpy(), target.numpy()
        np.testing.assert_allclose(target.sum(1), 1.0, rtol=1e-6)
        if set(np.unique(out)) <= {0.0, 1.0}:  # cutmix
            kinds.add("cutmix")
            pasted = out[0, ..., 0] == 0.0
            assert all(np.array_equal(pasted[0], pasted[t]) for t in range(3))
            np.testing.assert_allclose(target[0, 0], 1.0 - pasted[0].mean(), atol=1e-6)
        else:
            kinds.add("mixup")
            np.testing.assert_allclose(out[0], target[0, 0], atol=1e-6)
    assert kinds == {"cutmix", "mixup"}
    a = T.mixup_cutmix_tf(clips, labels, tf.constant([1, 2]), 2)[0].numpy()
    b = T.mixup_cutmix_tf(clips, labels, tf.constant([1, 2]), 2)[0].numpy()
    np.testing.assert_array_equal(a, b)


def test_mixup_cutmix_tf_inside_tf_data():
    tf = pytest.importorskip("tensorflow")
    clips, labels = two_class_batch(b=8)
    ds = tf.data.Dataset.from_tensor_slices((clips, labels)).batch(4).enumerate()
    ds = ds.map(lambda i, xy: T.mixup_cutmix_tf(xy[0], xy[1], tf.stack([tf.constant(0, tf.int64), i]), 2))
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 2 and batches[0][0].shape == (4, 3, 20, 24, 3) and batches[0][1].shape == (4, 2)


# ----------------------------------------------------------------- MA-52 person crop

def test_person_crop_box_padding_and_widening():
    boxes = np.array([[500, 300, 560, 700], [520, 320, 600, 720]])  # union 500..600 x 300..720
    # padded: x 440..680, y 200..780 -> w 240, h 580, ratio 0.41 < 0.6
    # widen by int((580 * 0.6 - 240) / 2) = 54 on each side
    assert T.person_crop_box(boxes, 1296, 1080) == (386, 200, 734, 780)
    x1, y1, x2, y2 = T.person_crop_box(boxes, 1296, 1080)
    assert (x2 - x1) / (y2 - y1) >= 0.6


def test_person_crop_box_clipping_and_no_boxes():
    # near the top-left corner: padding clipped to 0; widening clipped too (stays < 0.6)
    x1, y1, x2, y2 = T.person_crop_box(np.array([[10, 50, 40, 900]]), 1296, 1080)
    assert (x1, y1) == (0, 0) and y2 == 960 and x2 == 120 + int((960 * 0.6 - 120) / 2)
    # wide enough already: no widening; clipped to W - 1 / H - 1 as the official
    assert T.person_crop_box(np.array([[0, 0, 1075, 1290]]), 1296, 1080) == (0, 0, 1079, 1295)
    assert T.person_crop_box(np.zeros((0, 4)), 100, 200) == (0, 0, 200, 100)


# ----------------------------------------------------------------- composites

def test_composite_transforms_shapes_and_determinism():
    clip = random_clip(t=4, h=64, w=86, seed=2)
    a = T.finetune_train_transform(clip, rng(5), size=32)
    b = T.finetune_train_transform(clip, rng(5), size=32)
    assert a.shape == (4, 32, 32, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    p = T.pretrain_transform(clip, rng(5), size=32)
    assert p.shape == (4, 32, 32, 3) and p.dtype == np.float32
    e = T.eval_transform(clip, 32, 32)
    np.testing.assert_array_equal(e, T.normalize(T.center_crop(T.resize_short_side(clip, 32), 32)))

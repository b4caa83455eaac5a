"""Model construction, shapes, errors and the official parameter counts (SPEC 1, 4, 5)."""

import numpy as np
import pytest
from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER

import videomae_tf
from videomae_tf import (
    VideoMAE_ViTB16FT,
    VideoMAE_ViTB16PT,
    VideoMAE_ViTG14FT,
    VideoMAE_ViTG14PT,
    VideoMAE_ViTH16FT,
    VideoMAE_ViTH16PT,
    VideoMAE_ViTL16FT,
    VideoMAE_ViTL16PT,
    VideoMAE_ViTS16FT,
    VideoMAE_ViTS16PT,
)
from videomae_tf.models import official_weights


def count_without_allocating(factory, **kwargs):
    return videomae_tf.count_parameters(factory, **kwargs)


@pytest.mark.parametrize(
    "factory, expected",
    [
        (VideoMAE_ViTS16FT, 22_033_936),
        (VideoMAE_ViTB16FT, 86_534_800),
        (VideoMAE_ViTL16FT, 304_270_736),
        (VideoMAE_ViTH16FT, 632_119_440),
        (VideoMAE_ViTG14FT, 1_012_611_142),
    ],
)
def test_finetune_parameter_counts_equal_official(factory, expected):
    assert count_without_allocating(factory) == expected


@pytest.mark.parametrize(
    "factory, kwargs, expected",
    [
        (VideoMAE_ViTS16PT, {}, 24_029_376),
        (VideoMAE_ViTB16PT, {}, 94_210_944),
        (VideoMAE_ViTL16PT, {}, 342_996_992),
        (VideoMAE_ViTH16PT, {}, 692_487_296),
        (VideoMAE_ViTH16PT, {"version": "v2"}, 645_659_392),
        (VideoMAE_ViTG14PT, {}, 1_026_306_560),
    ],
)
def test_pretrain_parameter_counts_equal_official(factory, kwargs, expected):
    assert count_without_allocating(factory, **kwargs) == expected


def test_stateless_count_equals_allocated_count():
    lazy = count_without_allocating(VideoMAE_ViTS16FT, num_classes=10)
    assert VideoMAE_ViTS16FT(num_classes=10).count_params() == lazy


def test_public_door_and_overrides():
    model = videomae_tf.VideoMAE_ViTB16FT(num_classes=7, **{k: v for k, v in TINY.items()})
    logits = model(np.zeros((2,) + TINY_CLIP, "float32"))
    assert logits.shape == (2, 7)
    assert model.encoder_config["embed_dim"] == 32 and len(model.blocks) == 2


def test_factory_rejects_unknown_option():
    with pytest.raises(TypeError, match="unknown fine-tuning model options"):
        VideoMAE_ViTS16FT(num_clases=3)
    with pytest.raises(ValueError, match="has no v1 pretraining model"):
        VideoMAE_ViTG14PT(version="v1")


@pytest.mark.parametrize(
    "shape", [(2, 8, 32, 32, 3), (2, 4, 32, 32), (2, 4, 48, 32, 3), (2, 3, 4, 32, 32)]
)
def test_wrong_clip_shape_raises_a_clear_value_error(shape):
    model = VideoMAE_ViTS16FT(num_classes=3, **TINY)
    with pytest.raises(ValueError, match=r"expects clips of shape \(batch, 4, 32, 32, 3\)"):
        model(np.zeros(shape, "float32"))


def test_indivisible_sizes_are_rejected():
    with pytest.raises(ValueError, match="divisible"):
        VideoMAE_ViTS16FT(**dict(TINY, img_size=40))


def test_features_and_token_map_shapes():
    model = VideoMAE_ViTS16FT(num_classes=3, **TINY)
    clip = np.random.default_rng(0).normal(size=(2,) + TINY_CLIP).astype("float32")
    assert model.forward_features(clip).shape == (2, 32)
    assert model.forward_token_map(clip).shape == (2, 2, 2, 2, 32)
    headless = VideoMAE_ViTS16FT(num_classes=0, **TINY)
    assert headless(clip).shape == (2, 32)


def test_mean_pooling_off_uses_norm_of_token_zero():
    model = VideoMAE_ViTS16FT(num_classes=3, use_mean_pooling=False, **TINY)
    names = set(official_weights(model))
    assert "norm.weight" in names and "fc_norm.weight" not in names
    clip = np.random.default_rng(1).normal(size=(1,) + TINY_CLIP).astype("float32")
    tokens = model.forward_tokens(clip)
    expected = model.head(model.norm(tokens)[:, 0])
    np.testing.assert_allclose(np.asarray(model(clip)), np.asarray(expected), atol=1e-6)


def test_mean_pooling_is_fc_norm_of_token_mean():
    model = VideoMAE_ViTS16FT(num_classes=3, **TINY)
    clip = np.random.default_rng(2).normal(size=(1,) + TINY_CLIP).astype("float32")
    tokens = np.asarray(model.forward_tokens(clip))
    expected = model.head(model.fc_norm(tokens.mean(axis=1)))
    np.testing.assert_allclose(np.asarray(model(clip)), np.asarray(expected), atol=1e-6)


def test_cls_token_and_learned_positions_for_catmae_layout():
    model = VideoMAE_ViTS16FT(num_classes=3, use_cls_token=True, learned_pos_embed=True, **TINY)
    weights = official_weights(model)
    assert tuple(weights["cls_token"].shape) == (1, 1, 32)
    assert tuple(weights["pos_embed"].shape) == (1, 9, 32)
    clip = np.zeros((1,) + TINY_CLIP, "float32")
    assert model.forward_tokens(clip).shape == (1, 9, 32)
    assert model.forward_token_map(clip).shape == (1, 2, 2, 2, 32)


def test_head_starts_small_with_init_scale():
    model = VideoMAE_ViTS16FT(num_classes=50, **TINY)
    kernel = np.asarray(model.head.kernel)
    assert kernel.std() < 0.02 * 0.001 * 1.5
    assert np.all(np.asarray(model.head.bias) == 0)


def test_weight_names_follow_the_official_module_paths():
    names = set(official_weights(VideoMAE_ViTS16FT(num_classes=3, **TINY)))
    expected = {
        "patch_embed.proj.weight", "patch_embed.proj.bias", "blocks.0.norm1.weight",
        "blocks.0.attn.qkv.weight", "blocks.0.attn.q_bias", "blocks.0.attn.v_bias",
        "blocks.0.attn.proj.weight", "blocks.1.mlp.fc1.bias", "blocks.1.mlp.fc2.weight",
        "blocks.1.norm2.bias", "fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias",
    }
    assert expected <= names
    assert "blocks.0.attn.qkv.bias" not in names  # the official qkv Linear has no bias
    pt = set(official_weights(VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)))
    assert {"encoder.patch_embed.proj.weight", "encoder.norm.weight", "encoder_to_decoder.weight",
            "mask_token", "decoder.blocks.0.attn.q_bias", "decoder.norm.weight",
            "decoder.head.weight"} <= pt
    assert "encoder_to_decoder.bias" not in pt


def test_drop_path_rates_follow_linspace():
    model = VideoMAE_ViTS16FT(num_classes=3, drop_path_rate=0.3, **dict(TINY, depth=4))
    rates = [block.drop_path.rate for block in model.blocks]
    np.testing.assert_allclose(rates, np.linspace(0, 0.3, 4))


def test_model_from_config_builds_both_tasks():
    ft = videomae_tf.model_from_config(dict(task="finetune", arch="vit_s", num_classes=2, **TINY))
    pt = videomae_tf.model_from_config(dict(task="pretrain", arch="vit_s", **TINY))
    assert isinstance(ft, videomae_tf.VideoMAEClassifier)
    assert isinstance(pt, videomae_tf.VideoMAEPretrainer)
    assert pt.decoder_config["decoder_embed_dim"] == 192
    with pytest.raises(ValueError, match="task"):
        videomae_tf.model_from_config({"task": "segment"})

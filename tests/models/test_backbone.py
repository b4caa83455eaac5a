"""VideoMAEBackbone (the classifier without its head) and the explicit constructor
signatures of the models."""

import inspect

import h5py
import numpy as np
import pytest

import videomae_tf
from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER
from videomae_tf.models import (VideoMAEBackbone, VideoMAEClassifier, VideoMAEEncoder,
                                VideoMAEPretrainer, official_weights)
from videomae_tf.models.backbone import BACKBONE_DEFAULTS
from videomae_tf.models.classifier import CLASSIFIER_DEFAULTS
from videomae_tf.models.encoder import ENCODER_DEFAULTS
from videomae_tf.models.pretrainer import PRETRAINER_DEFAULTS

CLIP = np.random.default_rng(0).normal(size=(2,) + TINY_CLIP).astype("float32")


def _h5_layout(path):
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: names.append((name, item.shape))
                     if isinstance(item, h5py.Dataset) else None)
    return sorted(names)


@pytest.mark.parametrize("pooling", [True, False])
def test_backbone_has_the_weight_layout_of_a_headless_classifier(tmp_path, pooling):
    classifier = VideoMAEClassifier(num_classes=0, use_mean_pooling=pooling, **TINY)
    backbone = VideoMAEBackbone(use_mean_pooling=pooling, **TINY)
    assert sorted(official_weights(backbone)) == sorted(official_weights(classifier))
    classifier.save_weights(tmp_path / "c.weights.h5")
    backbone.save_weights(tmp_path / "b.weights.h5")
    assert _h5_layout(tmp_path / "b.weights.h5") == _h5_layout(tmp_path / "c.weights.h5")
    backbone.load_weights(tmp_path / "c.weights.h5")  # a classifier's file loads as it is
    np.testing.assert_allclose(backbone(CLIP)["pooled"], classifier(CLIP), atol=1e-6)


@pytest.mark.parametrize("options", [dict(), dict(use_mean_pooling=False, use_cls_token=True)])
def test_from_classifier_gives_the_classifier_features(options):
    classifier = VideoMAEClassifier(num_classes=5, **TINY, **options)
    backbone = VideoMAEBackbone.from_classifier(classifier)
    assert backbone.get_config() == dict(
        {k: v for k, v in classifier.get_config().items() if k in BACKBONE_DEFAULTS},
        name="videomae_backbone")
    out = backbone(CLIP)
    tokens = classifier.forward_tokens(CLIP)
    np.testing.assert_allclose(out["tokens"], tokens, atol=1e-6)
    np.testing.assert_allclose(out["pooled"], classifier.forward_features(CLIP), atol=1e-6)
    np.testing.assert_allclose(out["token_map"], classifier.forward_token_map(CLIP), atol=1e-6)
    prefix = 1 if options.get("use_cls_token") else 0
    assert out["tokens"].shape == (2, 8 + prefix, 32)
    assert out["token_map"].shape == (2, 2, 2, 2, 32)


def test_backbone_takes_a_pretrained_encoder_and_saves_with_a_sidecar(tmp_path):
    pretrainer = VideoMAEPretrainer(**TINY, **TINY_DECODER)
    backbone = VideoMAEBackbone(**TINY)
    copied = backbone.load_encoder_weights(pretrainer)
    assert "blocks.0.attn.qkv.weight" in copied and "norm.weight" not in copied
    path = videomae_tf.save_weights(backbone, tmp_path / "b.weights.h5")
    again = videomae_tf.load_model(path)
    assert isinstance(again, VideoMAEBackbone)
    np.testing.assert_allclose(again(CLIP)["pooled"], backbone(CLIP)["pooled"], atol=1e-6)
    # a classifier starts from a backbone as from a fine-tuned classifier: head fresh
    classifier = VideoMAEClassifier(num_classes=3, **TINY)
    assert "head.weight" not in classifier.load_encoder_weights(backbone)
    np.testing.assert_allclose(classifier.forward_features(CLIP), backbone(CLIP)["pooled"],
                               atol=1e-6)


def test_backbone_is_exported_and_named_architectures_build_it():
    assert videomae_tf.VideoMAEBackbone is VideoMAEBackbone
    from videomae_tf import VideoMAE_ViTB16FT  # noqa: F401  (still there)

    model = videomae_tf.model_from_config(dict(task="backbone", arch="vit_s", **TINY))
    assert isinstance(model, VideoMAEBackbone) and model.embed_dim == TINY["embed_dim"]


def test_signatures_are_explicit_and_the_defaults_dicts_read_them():
    for cls, defaults in ((VideoMAEEncoder, ENCODER_DEFAULTS),
                          (VideoMAEClassifier, CLASSIFIER_DEFAULTS),
                          (VideoMAEBackbone, BACKBONE_DEFAULTS),
                          (VideoMAEPretrainer, PRETRAINER_DEFAULTS)):
        parameters = inspect.signature(cls).parameters
        for option in ENCODER_DEFAULTS:
            assert parameters[option].annotation is not inspect.Parameter.empty, (cls, option)
        for option, default in defaults.items():
            assert parameters[option].default == default, (cls, option)
        assert {"name", "dtype", "trainable"} <= set(parameters)
        assert "img_size:" in cls.__doc__ and "{encoder_args}" not in cls.__doc__
    assert set(ENCODER_DEFAULTS) < set(CLASSIFIER_DEFAULTS) and ENCODER_DEFAULTS["depth"] == 12
    assert CLASSIFIER_DEFAULTS["num_classes"] == 400


def test_unknown_options_keep_their_message_and_keras_arguments_work():
    with pytest.raises(TypeError, match=r"unknown encoder options: \['embed_dims'\]"):
        VideoMAEClassifier(embed_dims=32, **TINY)
    with pytest.raises(TypeError, match=r"unknown encoder options: \['foo'\]"):
        VideoMAEBackbone(foo=1, **TINY)
    model = VideoMAEClassifier(3, name="frozen", trainable=False, dtype="float32", **TINY)
    assert model.name == "frozen" and not model.trainable and not model.trainable_weights
    assert model.get_config()["dtype"] == "float32"
    assert "dtype" not in VideoMAEClassifier(3, **TINY).get_config()  # sidecars as before


def test_features_take_a_backbone_as_they_take_its_classifier():
    from videomae_tf.features import feature_function

    classifier = VideoMAEClassifier(num_classes=3, **TINY)
    backbone = VideoMAEBackbone.from_classifier(classifier)
    want = feature_function(classifier, token_map=True)(CLIP)
    got = feature_function(backbone, token_map=True)(CLIP)
    assert sorted(got) == sorted(want) == ["pooled", "tokens"]
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-6)

"""Save and reload: .keras, .weights.h5 (+ sidecar), SavedModel, encoder transfer."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER

import videomae_tf
from videomae_tf import VideoMAE_ViTS16FT, VideoMAE_ViTS16PT
from videomae_tf.export import export_saved_model
from videomae_tf.masking import visible_and_reconstructed
from videomae_tf.models import official_weights

CLIP = np.random.default_rng(0).normal(size=(2,) + TINY_CLIP).astype("float32")
ENC_MASK = np.tile(np.array([0, 1, 1, 0, 1, 0, 1, 1], bool), (2, 1))


@pytest.fixture(scope="module")
def classifier():
    return VideoMAE_ViTS16FT(num_classes=5, init_scale=1.0, **TINY)


@pytest.fixture(scope="module")
def pretrainer():
    return VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)


def test_keras_file_round_trip(tmp_path, classifier, pretrainer):
    classifier.save(tmp_path / "ft.keras")
    again = keras.saving.load_model(tmp_path / "ft.keras")
    np.testing.assert_allclose(again(CLIP), classifier(CLIP), atol=1e-5)
    pretrainer.save(tmp_path / "pt.keras")
    again = keras.saving.load_model(tmp_path / "pt.keras")
    np.testing.assert_allclose(again.reconstruct(CLIP, ENC_MASK), pretrainer.reconstruct(CLIP, ENC_MASK), atol=1e-5)


def test_weights_file_loads_in_another_process(tmp_path, classifier):
    path = videomae_tf.save_weights(classifier, tmp_path / "ft.weights.h5")
    np.save(tmp_path / "clip.npy", CLIP)
    np.save(tmp_path / "want.npy", np.asarray(classifier(CLIP)))
    script = textwrap.dedent(f"""
        import numpy as np, videomae_tf
        model = videomae_tf.VideoMAE_ViTS16FT(num_classes=5, **{TINY!r})
        model.load_weights({str(path)!r})
        got = np.asarray(model(np.load({str(tmp_path / 'clip.npy')!r})))
        np.testing.assert_allclose(got, np.load({str(tmp_path / 'want.npy')!r}), atol=1e-5)
        rebuilt = videomae_tf.load_model({str(path)!r})
        np.testing.assert_allclose(np.asarray(rebuilt(np.load({str(tmp_path / 'clip.npy')!r}))), got, atol=1e-6)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_saved_model_export_reloads_with_tf_saved_model_load(tmp_path, classifier, pretrainer):
    import tensorflow as tf

    export_saved_model(classifier, tmp_path / "ft")
    served = tf.saved_model.load(str(tmp_path / "ft"))
    np.testing.assert_allclose(served.serve(CLIP).numpy(), classifier(CLIP), atol=1e-5)
    export_saved_model(pretrainer, tmp_path / "pt")
    served = tf.saved_model.load(str(tmp_path / "pt"))
    visible, rec = visible_and_reconstructed(ENC_MASK)
    np.testing.assert_allclose(
        served.serve(CLIP, visible, rec).numpy(), pretrainer.reconstruct(CLIP, ENC_MASK), atol=1e-5
    )


def test_saved_model_serves_through_xla_unless_asked_not_to(tmp_path, classifier):
    """The exported ``serve`` carries XLA's must-compile mark (the fastest TF mode measured,
    benchmarks/inference.py); ``jit_compile=False`` leaves the plain graph."""
    import tensorflow as tf

    marker = b"_XlaMustCompile"
    export_saved_model(classifier, tmp_path / "xla")
    assert marker in (tmp_path / "xla" / "saved_model.pb").read_bytes()
    export_saved_model(classifier, tmp_path / "graph", jit_compile=False)
    assert marker not in (tmp_path / "graph" / "saved_model.pb").read_bytes()
    served = tf.saved_model.load(str(tmp_path / "graph"))
    np.testing.assert_allclose(served.serve(CLIP).numpy(), classifier(CLIP), atol=1e-5)


def test_load_model_errors_are_clear(tmp_path, classifier):
    with pytest.raises(FileNotFoundError, match="no model file"):
        videomae_tf.load_model(tmp_path / "missing.weights.h5")
    classifier.save_weights(tmp_path / "bare.weights.h5")
    with pytest.raises(FileNotFoundError, match="no config sidecar"):
        videomae_tf.load_model(tmp_path / "bare.weights.h5")
    (tmp_path / "model.pth").write_bytes(b"x")
    with pytest.raises(ValueError, match="expected a .keras"):
        videomae_tf.load_model(tmp_path / "model.pth")


def test_pretrained_encoder_moves_into_a_classifier_with_another_frame_count(tmp_path, pretrainer):
    path = videomae_tf.save_weights(pretrainer, tmp_path / "pt.weights.h5")
    classifier = VideoMAE_ViTS16FT(num_classes=3, **dict(TINY, num_frames=8))
    fc_norm_before = np.asarray(classifier.fc_norm.gamma).copy()
    copied = classifier.load_encoder_weights(path)
    assert "blocks.0.attn.qkv.weight" in copied and "norm.weight" not in copied
    src, dst = official_weights(pretrainer), official_weights(classifier)
    for key in copied:
        np.testing.assert_array_equal(np.asarray(dst[key]), np.asarray(src["encoder." + key]))
    np.testing.assert_array_equal(np.asarray(classifier.fc_norm.gamma), fc_norm_before)
    assert classifier(np.zeros((1, 8, 32, 32, 3), "float32")).shape == (1, 3)


def test_fine_tuned_classifier_starts_another_task_with_a_fresh_head(tmp_path, classifier):
    folder = videomae_tf.save_pretrained(classifier, tmp_path / "k710_like")
    other = VideoMAE_ViTS16FT(num_classes=7, **TINY)
    head_before = np.asarray(other.head.kernel).copy()
    copied = other.load_encoder_weights(str(folder))
    assert "fc_norm.weight" in copied and not [k for k in copied if k.startswith("head.")]
    src, dst = official_weights(classifier), official_weights(other)
    for key in copied:
        np.testing.assert_array_equal(np.asarray(dst[key]), np.asarray(src[key]))
    np.testing.assert_array_equal(np.asarray(other.head.kernel), head_before)


def test_encoder_transfer_rejects_a_different_width(pretrainer):
    wide = VideoMAE_ViTS16FT(num_classes=3, **dict(TINY, embed_dim=64))
    with pytest.raises(ValueError, match="shape mismatch"):
        wide.load_encoder_weights(pretrainer)

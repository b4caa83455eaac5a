"""``fast_predict``: the compiled inference call every command uses gives the model's own
outputs (fused attention and XLA included), for classifiers and the MA-52 model."""

import json

import numpy as np
import pytest

from tests.tiny_configs import TINY, TINY_CLIP
from videomae_tf.models import MicroActionModel, VideoMAEClassifier
from videomae_tf.models.fast import fast_predict

CLIPS = np.random.default_rng(3).standard_normal((2, *TINY_CLIP)).astype("float32")


@pytest.mark.parametrize("mode", ["auto", "graph", "xla"])
def test_fast_predict_equals_the_eager_call(mode):
    model = VideoMAEClassifier(num_classes=5, init_scale=1.0, **TINY)
    expected = np.asarray(model(CLIPS, training=False))
    got = np.asarray(fast_predict(model, mode)(CLIPS))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    one = np.asarray(fast_predict(model, mode)(CLIPS[:1]))  # another batch size
    np.testing.assert_allclose(one, expected[:1], atol=1e-5)


def test_fast_predict_keeps_dict_outputs():
    model = MicroActionModel(backbone=TINY, coarse_assist=True)
    expected = model(CLIPS, training=False)
    got = fast_predict(model)(CLIPS)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(expected[key]), atol=1e-5)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="'auto', 'graph' or 'xla'"):
        fast_predict(VideoMAEClassifier(num_classes=2, **TINY), "fast")


def test_auto_mode_is_measured_once_per_shape_and_cached(monkeypatch, tmp_path):
    from videomae_tf.models import fast

    monkeypatch.setenv("VIDEOMAE_TF_CACHE", str(tmp_path))
    monkeypatch.delenv(fast.MODE_ENV, raising=False)
    model = VideoMAEClassifier(num_classes=5, init_scale=1.0, **TINY)
    run = fast_predict(model)
    run(CLIPS)
    assert run.modes[CLIPS.shape] in ("graph", "xla")
    table = json.loads((tmp_path / "fast_modes.json").read_text())
    assert list(table.values()) == [run.modes[CLIPS.shape]]

    def no_probe(*args):
        raise AssertionError("the cached choice should be used")

    monkeypatch.setattr(fast, "_measure", no_probe)
    again = fast_predict(model)
    np.testing.assert_allclose(np.asarray(again(CLIPS)), np.asarray(run(CLIPS)), atol=1e-5)
    assert again.modes == run.modes
    with pytest.raises(AssertionError, match="cached choice"):  # a new shape is measured
        again(CLIPS[:1])


def test_the_mode_variable_fixes_the_mode_and_is_checked(monkeypatch):
    from videomae_tf.models import fast

    model = VideoMAEClassifier(num_classes=2, **TINY)
    monkeypatch.setenv(fast.MODE_ENV, "graph")
    run = fast_predict(model)
    run(CLIPS)
    assert run.modes == {CLIPS.shape: "graph"}
    monkeypatch.setenv(fast.MODE_ENV, "fastest")
    with pytest.raises(ValueError, match=r"\$VIDEOMAE_TF_FAST_MODE must be .* got 'fastest'"):
        fast_predict(model)


@pytest.mark.parametrize("mode", ["graph", "xla"])
def test_bf16_fast_paths_stay_near_fp32(mode):
    import keras

    model = VideoMAEClassifier(num_classes=5, init_scale=1.0, **TINY)
    expected = np.asarray(fast_predict(model, mode)(CLIPS))
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        half = VideoMAEClassifier(num_classes=5, init_scale=1.0, **TINY)
    finally:
        keras.config.set_dtype_policy("float32")
    half.set_weights(model.get_weights())
    got = np.asarray(keras.ops.cast(fast_predict(half, mode)(CLIPS), "float32"))
    scale = np.abs(expected).max(axis=-1, keepdims=True)
    assert np.all(np.abs(got - expected) <= 0.03 * scale)


def _onednn_after_import(first: str, env: dict) -> str:
    """``TF_ENABLE_ONEDNN_OPTS`` after ``first`` then ``videomae_tf`` are imported in a fresh
    process; ``first="tensorflow"`` stands in a placeholder module for TensorFlow (what the
    rule looks at, without its 5-second import)."""
    import os
    import subprocess
    import sys

    code = (f"import sys, types; sys.modules['{first}'] = types.ModuleType('{first}'); "
            "import os, videomae_tf; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset'))")
    base = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run([sys.executable, "-c", code], env={**base, **env},
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout.split()[-1]


@pytest.mark.skipif(__import__("platform").machine().lower() not in ("x86_64", "amd64"),
                    reason="oneDNN is preferred on x86-64 CPUs only")
def test_importing_the_package_first_turns_on_onednn_unless_the_user_chose():
    """TensorFlow turns its oneDNN kernels on by itself only on AVX512-VNNI CPUs; ours asks
    for them on every x86 CPU (1.5x model.predict at batch 4 on an AVX2 Zen 3), but a value
    the user set stays, and once TensorFlow is imported it is too late to change it."""
    assert _onednn_after_import("unrelated_module", {}) == "1"
    assert _onednn_after_import("unrelated_module", {"TF_ENABLE_ONEDNN_OPTS": "0"}) == "0"
    assert _onednn_after_import("tensorflow", {}) == "unset"

"""keras-hub presets (issue 27): our pretrained folders load with keras-hub's
``from_preset``, keras-hub's ``save_to_preset`` folders load with ``from_pretrained``,
the earlier layout still loads, and ``kaggle://`` handles resolve through kagglehub's
cache (built here; nothing reaches the network)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import videomae_tf
from tests.tiny_configs import TINY, TINY_CLIP
from videomae_tf import hub
from videomae_tf.errors import InputError

NAMES = ["clap", "wave", "jump"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny():
    model = videomae_tf.VideoMAEClassifier(num_classes=3, head_drop_rate=0.1, **TINY)
    clips = np.random.default_rng(1).standard_normal((2, *TINY_CLIP)).astype("float32")
    return model, clips, np.asarray(model(clips))


@pytest.fixture
def preset(tiny, tmp_path):
    return hub.save_pretrained(tiny[0], tmp_path / "preset", class_names=NAMES)


def test_keras_hub_loads_our_folder(tiny, preset):
    keras_hub = pytest.importorskip("keras_hub")
    from videomae_tf.kerashub import VideoMAEPresetBackbone, VideoMAEVideoClassifier

    model, clips, expected = tiny
    backbone = keras_hub.models.Backbone.from_preset(str(preset))
    assert isinstance(backbone, VideoMAEPresetBackbone)
    np.testing.assert_allclose(np.asarray(backbone(clips)["pooled"]),
                               np.asarray(model.forward_features(clips)), atol=1e-6)
    classifier = VideoMAEVideoClassifier.from_preset(str(preset))
    np.testing.assert_allclose(np.asarray(classifier(clips)), expected, atol=1e-6)


def test_a_folder_keras_hub_saved_loads_with_from_pretrained(tiny, tmp_path):
    pytest.importorskip("keras_hub")
    from videomae_tf.kerashub import VideoMAEVideoClassifier

    _, clips, expected = tiny
    classifier = VideoMAEVideoClassifier.from_preset(
        str(hub.save_pretrained(tiny[0], tmp_path / "ours")))
    classifier.save_to_preset(str(tmp_path / "theirs"))
    assert not (tmp_path / "theirs" / "videomae_tf.json").exists()
    loaded = videomae_tf.from_pretrained(tmp_path / "theirs")
    assert type(loaded) is videomae_tf.VideoMAEClassifier and loaded.class_names is None
    np.testing.assert_allclose(np.asarray(loaded(clips)), expected, atol=1e-6)


def test_a_preset_loads_without_keras_hub(preset, tiny):
    """In a process where keras_hub cannot be imported, the preset still loads."""
    _, clips, expected = tiny
    np.save(preset.parent / "clips.npy", clips)
    code = ("import sys; sys.modules['keras_hub'] = None\n"
            "import numpy as np, videomae_tf\n"
            f"model = videomae_tf.from_pretrained({str(preset)!r})\n"
            f"np.save({str(preset.parent / 'out.npy')!r}, np.asarray(model(np.load("
            f"{str(preset.parent / 'clips.npy')!r}))))\n"
            "print(model.class_names)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)), check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith(str(NAMES))
    np.testing.assert_allclose(np.load(preset.parent / "out.npy"), expected, atol=1e-6)


def test_the_earlier_layout_still_loads(tiny, tmp_path):
    from videomae_tf.models.saving import model_config

    model, clips, expected = tiny
    old = tmp_path / "old"
    old.mkdir()
    model.save_weights(str(old / "model.weights.h5"))
    (old / "config.json").write_text(json.dumps(
        {"format": "videomae_tf", "config": model_config(model), "class_names": NAMES}))
    loaded = videomae_tf.from_pretrained(old)
    np.testing.assert_array_equal(np.asarray(loaded(clips)), expected)
    assert loaded.class_names == NAMES


def test_a_backbone_is_saved_and_loaded_as_a_preset_without_a_task(tiny, tmp_path):
    from videomae_tf.models.backbone import VideoMAEBackbone

    model, clips, _ = tiny
    backbone = VideoMAEBackbone.from_classifier(model)
    folder = hub.save_pretrained(backbone, tmp_path / "backbone")
    assert not (folder / "task.json").exists()
    loaded = videomae_tf.from_pretrained(folder)
    assert type(loaded) is VideoMAEBackbone
    np.testing.assert_array_equal(np.asarray(loaded(clips)["pooled"]),
                                  np.asarray(backbone(clips)["pooled"]))


def test_bad_task_weights_are_refused_naming_the_array(preset):
    import h5py

    with h5py.File(preset / "task.weights.h5", "r+") as f:
        kernel = f["layers/dense/vars/0"][()]
        kernel[0, 0] = np.nan
        f["layers/dense/vars/0"][...] = kernel
    with pytest.raises(InputError, match=r"layers/dense/vars/0 holds NaN or Inf values"):
        videomae_tf.from_pretrained(preset)
    (preset / "task.json").write_text(json.dumps({"registered_name": "someone>Other",
                                                  "config": {}}))
    with pytest.raises(InputError, match=r"registered_name 'someone>Other' is not a "
                                         r"videomae_tf preset"):
        videomae_tf.from_pretrained(preset)


def _kaggle_cache(root: Path, handle: str, folder: Path) -> Path:
    """Place ``folder`` in a kagglehub cache at ``root`` as the model version ``handle``."""
    from kagglehub.cache import Cache, get_cached_path
    from kagglehub.handle import parse_model_handle

    model = parse_model_handle(handle)
    shutil.copytree(folder, get_cached_path(model))
    Cache().mark_as_complete(model)
    return Path(get_cached_path(model))


def test_kaggle_handles_resolve_through_kagglehubs_cache(preset, tiny, tmp_path, monkeypatch):
    pytest.importorskip("kagglehub")
    _, clips, expected = tiny
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kaggle"))
    _kaggle_cache(tmp_path / "kaggle", "someone/videomae/keras/tiny/1", preset)
    newest = _kaggle_cache(tmp_path / "kaggle", "someone/videomae/keras/tiny/2", preset)
    loaded = videomae_tf.from_pretrained("kaggle://someone/videomae/keras/tiny/2")
    np.testing.assert_allclose(np.asarray(loaded(clips)), expected, atol=1e-6)
    assert loaded.class_names == NAMES
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # caches only: the newest cached version
    assert hub.resolve("kaggle://someone/videomae/keras/tiny") == newest
    with pytest.raises(FileNotFoundError, match=r"kaggle://someone/videomae/keras/other is not "
                                                r"in kagglehub's cache"):
        hub.resolve("kaggle://someone/videomae/keras/other")
    for bad in ("kaggle://someone/videomae", "kaggle://a/b/c/d/latest", "kaggle://a/b/c/d/0"):
        with pytest.raises(InputError, match=r"expected kaggle://owner/model/framework/"
                                             r"variation\[/version\]"):
            hub.resolve(bad)


def test_a_preset_loads_with_a_head_option_changed(preset):
    from videomae_tf.models import load_model

    model = load_model(preset, head_drop_rate=0.5)
    assert model.head_drop_rate == 0.5


def test_features_of_a_backbone_preset_through_the_cli(tiny, tmp_path, shared_data, capsys):
    from videomae_tf.cli import main
    from videomae_tf.models.backbone import VideoMAEBackbone

    folder = hub.save_pretrained(VideoMAEBackbone.from_classifier(tiny[0]), tmp_path / "bb")
    video = shared_data / "videos" / "short_32_frames.mp4"
    assert main(["features", str(video), "--weights", str(folder), "--output",
                 str(tmp_path / "features")]) == 0, capsys.readouterr().err
    assert (tmp_path / "features" / "short_32_frames.npy").is_file()
    # another model into the same output: refused, not mixed
    other = videomae_tf.VideoMAEClassifier(num_classes=3, **TINY)
    hub.save_pretrained(other, tmp_path / "other")
    assert main(["features", str(video), "--weights", str(tmp_path / "other"), "--output",
                 str(tmp_path / "features")]) == 2
    assert "holds features made with other settings (model=" in capsys.readouterr().err

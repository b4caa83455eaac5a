"""save_pretrained / from_pretrained / push_to_hub on tiny models, with a Hub cache built
here (nothing reaches the network: connecting is made to fail)."""

import json
import shutil

import numpy as np
import pytest

import videomae_tf
from tests.tiny_configs import TINY, TINY_CLIP
from videomae_tf import hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"
NAMES = ["clap", "wave", "jump"]


@pytest.fixture(scope="module")
def tiny():
    model = videomae_tf.VideoMAEClassifier(num_classes=3, **TINY)
    clips = np.random.default_rng(0).standard_normal((2, *TINY_CLIP)).astype("float32")
    return model, clips, np.asarray(model(clips))


@pytest.fixture
def folder(tiny, tmp_path):
    model, _, _ = tiny
    return hub.save_pretrained(model, tmp_path / "tiny", class_names=NAMES,
                               source={"trained": "on the test's clips"},
                               metrics={"top1": 0.5})


def hub_cache(root, repo_id, folder):
    """Place ``folder`` in a Hugging Face cache as the snapshot of ``repo_id`` at main."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copytree(folder, repo / "snapshots" / COMMIT)
    return root


def test_folder_round_trip(tiny, folder):
    _, clips, expected = tiny
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "config.json", "labels.txt", "metadata.json", "model.weights.h5",
        "task.json", "task.weights.h5", "videomae_tf.json"]  # keras-hub's preset layout
    document = json.loads((folder / "videomae_tf.json").read_text())
    assert document["format"] == "videomae_tf" and document["class_names"] == NAMES
    assert json.loads((folder / "config.json").read_text())["registered_name"] == \
        "videomae_tf>VideoMAEPresetBackbone"
    assert (folder / "labels.txt").read_text().split() == NAMES
    card = (folder / "README.md").read_text()
    assert "video classifier (3 classes)" in card and "| top1 | 0.5 |" in card
    assert "(batch, 4, 32, 32, 3)" in card
    loaded = videomae_tf.from_pretrained(folder)
    np.testing.assert_array_equal(np.asarray(loaded(clips)), expected)
    assert list(loaded.class_names) == NAMES


def test_save_pretrained_keeps_other_files_and_rewrites_its_own(tiny, folder):
    model, _, _ = tiny
    (folder / "notes.txt").write_text("mine")
    hub.save_pretrained(model, folder, class_names=["a", "b", "c"])
    assert (folder / "notes.txt").read_text() == "mine"
    assert not [p for p in folder.iterdir() if p.name.startswith(".partial")]
    assert videomae_tf.from_pretrained(folder).class_names == ["a", "b", "c"]


def test_save_pretrained_refuses_wrong_class_count(tiny, tmp_path):
    with pytest.raises(ValueError, match="2 class names for a model with 3 classes"):
        hub.save_pretrained(tiny[0], tmp_path / "x", class_names=["a", "b"])


def test_hf_handle_loads_from_the_cache_offline(tiny, folder, tmp_path, monkeypatch):
    _, clips, expected = tiny
    cache = hub_cache(tmp_path / "hf", "someone/tiny-videomae", folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = videomae_tf.from_pretrained("hf://someone/tiny-videomae")
    np.testing.assert_array_equal(np.asarray(loaded(clips)), expected)
    assert list(loaded.class_names) == NAMES
    pinned = videomae_tf.from_pretrained(f"hf://someone/tiny-videomae@{COMMIT}")
    np.testing.assert_array_equal(np.asarray(pinned(clips)), expected)


def test_uncached_hf_handle_is_named_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"hf://nobody/missing is not in .*HF_HUB_OFFLINE"):
        videomae_tf.from_pretrained("hf://nobody/missing")


@pytest.mark.parametrize("handle", ["hf://just-a-name", "hf://a/b/c", "hf:///repo"])
def test_malformed_hf_handle(handle):
    with pytest.raises(ValueError, match="expected hf://org/repo"):
        hub.resolve(handle)


def test_unknown_source_suggests_zoo_names():
    with pytest.raises(FileNotFoundError, match="did you mean videomae_vit_b_k400_ft"):
        hub.resolve("videomae_vit_b_k400_f")
    with pytest.raises(FileNotFoundError, match="no such file or folder.*zoo name"):
        hub.resolve("surely-not-a-model")


def test_offline_zoo_model_not_cached_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOMAE_TF_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from videomae_tf.zoo import ZOO

    name = next(n for n, e in ZOO.items() if e.download and "google" not in e.download)
    with pytest.raises(FileNotFoundError, match=f"zoo model {name} is not in the cache"):
        hub.resolve(name)


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """huggingface_hub.HfApi replaced by a recorder; uploads land in tmp_path/uploaded."""
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private=False, exist_ok=False):
            calls["created"] = (repo_id, private, exist_ok)

        def upload_folder(self, repo_id, folder_path, commit_message):
            calls["uploaded"] = shutil.copytree(folder_path, tmp_path / "uploaded")
            return f"https://huggingface.co/{repo_id}/commit/1"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    return calls


def test_push_to_hub_uploads_a_pretrained_folder(tiny, fake_hub):
    _, clips, expected = tiny
    url = hub.push_to_hub(tiny[0], "someone/tiny", class_names=NAMES, token="t")
    assert url.endswith("/commit/1") and fake_hub["created"] == ("someone/tiny", False, True)
    loaded = videomae_tf.from_pretrained(fake_hub["uploaded"])
    np.testing.assert_array_equal(np.asarray(loaded(clips)), expected)
    assert list(loaded.class_names) == NAMES


def test_cli_push_to_hub(folder, fake_hub, capsys):
    from videomae_tf.cli import main

    assert main(["push-to-hub", "someone/tiny", "--weights", str(folder), "--private"]) == 0
    assert capsys.readouterr().out.strip() == "https://huggingface.co/someone/tiny/commit/1"
    assert fake_hub["created"] == ("someone/tiny", True, True)
    uploaded = json.loads((fake_hub["uploaded"] / "videomae_tf.json").read_text())
    assert uploaded["class_names"] == NAMES


def test_cli_predict_takes_an_hf_handle(folder, tmp_path, monkeypatch, capsys):
    import cv2

    from videomae_tf.cli import main

    cache = hub_cache(tmp_path / "hf", "someone/tiny-videomae", folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 8, (64, 64))
    for frame in np.random.default_rng(0).integers(0, 255, (16, 64, 64, 3), np.uint8):
        writer.write(frame)
    writer.release()
    views = ["--num-clips", "1", "--num-crops", "1", "--sampling-rate", "1", "--top-k", "2"]
    assert main(["predict", str(video), "--weights", str(folder), *views]) == 0
    local = capsys.readouterr().out
    assert main(["predict", str(video), "--weights", "hf://someone/tiny-videomae", *views]) == 0
    assert capsys.readouterr().out == local  # the same model: the same names and numbers
    assert len(local.splitlines()) == 3 and local.splitlines()[1].split()[1] in NAMES
    assert main(["predict", str(video), "--weights", "hf://nobody/missing"]) == 2
    assert "hf://nobody/missing" in capsys.readouterr().err

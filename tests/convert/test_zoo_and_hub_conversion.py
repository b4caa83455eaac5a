"""from_pretrained on sources that need converting: a zoo entry (its download served from a
local file written here) and a transformers VideoMAE repo in a Hugging Face cache.
Each converts once, is cached, and matches the transformers reference."""

import dataclasses
import hashlib
import json
import shutil

import numpy as np
import pytest

from tests.convert import convert_helpers as helpers
import videomae_tf
from checkpoints_convert import converter
from videomae_tf import hub, zoo

COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture
def conversions(monkeypatch):
    """Counts calls of the converter."""
    calls = []
    real = converter.convert

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(converter, "convert", counting)
    return calls


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOMAE_TF_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "cache"


def tiny_entry(path, **changes):
    """A zoo entry for the tiny official checkpoint at ``path`` (served as a file:// URL)."""
    entry = zoo.ZooEntry(
        name="tiny_test_ft", family="videomae", arch="vit_s", task="finetune",
        data="test", page="https://example.invalid/zoo", download=path.as_uri(), frames=4, img_size=32,
        top1=12.5, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        convert_options=dict(overrides=helpers.TINY_OVERRIDES))
    return dataclasses.replace(entry, **changes)


def reference_logits(hf_model, x):
    import torch

    with torch.no_grad():
        return hf_model(pixel_values=helpers.torch_clip(x)).logits.numpy()


def test_zoo_entry_downloads_converts_once_and_is_cached(hf_cls, x, official_ft_file, cache,
                                                         conversions, monkeypatch):
    monkeypatch.setitem(zoo.ZOO, "tiny_test_ft", tiny_entry(official_ft_file))
    model = videomae_tf.from_pretrained("tiny_test_ft")
    np.testing.assert_allclose(np.asarray(model(x)), reference_logits(hf_cls, x), atol=2e-5)
    folder = cache / "zoo" / "tiny_test_ft"
    document = json.loads((folder / "videomae_tf.json").read_text())  # a preset folder
    assert document["source"]["zoo"] == "tiny_test_ft"
    assert document["metrics"] == {"top1": 12.5, "setting": "4x4"}
    assert not list((cache / "downloads").iterdir()), "the download is dropped once converted"
    again = videomae_tf.from_pretrained("tiny_test_ft")
    assert len(conversions) == 1, "the second load must use the cached conversion"
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))


def test_zoo_download_with_wrong_sha256_is_refused(official_ft_file, cache, monkeypatch):
    monkeypatch.setitem(zoo.ZOO, "tiny_test_ft", tiny_entry(official_ft_file, sha256="00ff"))
    with pytest.raises(ValueError, match="sha256 .* does not match zoo model tiny_test_ft's 00ff"):
        hub.resolve("tiny_test_ft")
    assert not (cache / "zoo").exists()
    assert not [p for p in (cache / "downloads").iterdir()]


def test_zoo_entry_without_download_takes_a_local_checkpoint(hf_cls, x, official_ft_file, cache,
                                                             monkeypatch):
    monkeypatch.setitem(zoo.ZOO, "tiny_test_ft", tiny_entry(official_ft_file, download=None))
    with pytest.raises(FileNotFoundError, match="no public download .*checkpoint=PATH"):
        hub.resolve("tiny_test_ft")
    model = videomae_tf.from_pretrained("tiny_test_ft", checkpoint=official_ft_file)
    np.testing.assert_allclose(np.asarray(model(x)), reference_logits(hf_cls, x), atol=2e-5)
    assert official_ft_file.exists(), "a checkpoint the user gave is never deleted"


def test_google_drive_entry_says_how_to_get_it(official_ft_file, cache, monkeypatch):
    entry = tiny_entry(official_ft_file, download="https://drive.google.com/file/d/x/view")
    monkeypatch.setitem(zoo.ZOO, "tiny_test_ft", entry)
    with pytest.raises(FileNotFoundError, match="drive.google.com, which needs a browser"):
        hub.resolve("tiny_test_ft")


def test_transformers_repo_in_the_hub_cache_is_converted_once(hf_cls, x, tmp_path, cache,
                                                              conversions, monkeypatch):
    repo = tmp_path / "hf" / "models--MCG-NJU--videomae-tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    hf_cls.save_pretrained(snapshot)
    config = json.loads((snapshot / "config.json").read_text())
    names = [f"action {i}" for i in range(len(config["id2label"]))]
    config["id2label"] = {str(i): n for i, n in enumerate(names)}
    (snapshot / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = videomae_tf.from_pretrained("hf://MCG-NJU/videomae-tiny")
    np.testing.assert_allclose(np.asarray(model(x)), reference_logits(hf_cls, x), atol=2e-5)
    assert list(model.class_names) == names
    videomae_tf.from_pretrained("hf://MCG-NJU/videomae-tiny")
    assert len(conversions) == 1
    shutil.rmtree(tmp_path / "hf")  # the converted copy stands alone
    assert (cache / "hub" / f"MCG-NJU--videomae-tiny--{COMMIT}" / "model.weights.h5").is_file()


def test_cli_zoo_fetch_and_predict_by_zoo_name(official_ft_file, cache, monkeypatch, capsys):
    from videomae_tf.cli import main

    monkeypatch.setitem(zoo.ZOO, "tiny_test_ft", tiny_entry(official_ft_file))
    assert main(["zoo", "tiny_test_ft", "--fetch"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "zoo" / "tiny_test_ft")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # cached now: nothing to download
    assert main(["export", "--weights", "tiny_test_ft", "--output", str(cache / "sm")]) == 0
    assert (cache / "sm" / "saved_model.pb").is_file()

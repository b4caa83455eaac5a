"""The command line end to end: .weights.h5 + sidecar, .keras and SavedModel all reload
to the same outputs as the PyTorch model."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from tests.convert import convert_helpers as helpers
from checkpoints_convert.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_cli_end_to_end(hf_cls, hf_cls_folder, x, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([str(hf_cls_folder), "--output", str(out / "tiny.weights.h5"),
                 "--keras", str(out / "tiny.keras"), "--saved-model", str(out / "tiny_savedmodel"),
                 "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "transformers layout" in printed and "36 source tensors -> 32 Keras weights" in printed
    assert sorted(p.name for p in out.iterdir()) == ["tiny.json", "tiny.keras", "tiny.weights.h5",
                                                     "tiny_savedmodel"]
    with torch.no_grad():
        ref = hf_cls(helpers.torch_clip(x)).logits.numpy()

    import keras
    import tensorflow as tf
    import videomae_tf

    sidecar = json.loads((out / "tiny.json").read_text())
    digest = hashlib.sha256((hf_cls_folder / "model.safetensors").read_bytes()).hexdigest()
    assert sidecar["source_sha256"] == digest
    assert sidecar["config"]["layer_norm_eps"] == 1e-12 and sidecar["config"]["fc_norm_eps"] == 1e-5

    from_weights = videomae_tf.load_model(out / "tiny.weights.h5")
    np.testing.assert_allclose(np.asarray(from_weights(x)), ref, atol=1e-4, rtol=0)
    from_keras = keras.saving.load_model(out / "tiny.keras")
    np.testing.assert_allclose(np.asarray(from_keras(x)), ref, atol=1e-4, rtol=0)
    served = tf.saved_model.load(str(out / "tiny_savedmodel"))
    np.testing.assert_allclose(served.serve(tf.constant(x)).numpy(), ref, atol=1e-4, rtol=0)


def test_module_entry_point_help():
    done = subprocess.run([sys.executable, "-m", "checkpoints_convert", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "--output" in done.stdout and "--saved-model" in done.stdout


def test_existing_folders_are_never_overwritten(hf_cls_folder, tmp_path, capsys):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("my own file")
    folder_keras = tmp_path / "folder.keras"
    folder_weights = tmp_path / "folder.weights.h5"
    for folder in (folder_keras, folder_weights):
        folder.mkdir()
    out = str(tmp_path / "m.weights.h5")
    cases = {"--saved-model": ["--output", out, "--saved-model", str(keep)],
             "--keras": ["--output", out, "--keras", str(folder_keras)],
             "--output": ["--output", str(folder_weights)]}
    for flag, args in cases.items():
        assert main([str(hf_cls_folder), *args, "--no-progress"]) == 2
        error = capsys.readouterr().err
        assert flag in error and "nothing was written or deleted" in error, error
    assert (keep / "notes.txt").read_text() == "my own file"
    assert folder_keras.is_dir() and folder_weights.is_dir()
    assert not (tmp_path / "m.weights.h5").exists()

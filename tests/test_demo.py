"""`python -m videomae_tf.demo` on tiny settings: every step runs, the last line is the score."""

import json
from pathlib import Path

import numpy as np

from videomae_tf.demo import main
from videomae_tf.evaluation import load_scores

TINY = ["--epochs", "1", "--train-per-class", "2", "--val-per-class", "1", "--quiet"]


def _run(output, capsys, *flags):
    assert main(["--output", str(output), *TINY, *flags]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    scores = load_scores(output / "evaluation" / "scores.pkl")  # top-1 again, from its dump
    top1 = np.mean(scores.probs.argmax(1) == scores.labels)
    assert lines[-1] == f"validation top-1: {top1:.2f}"
    assert (output / "saved_model" / "saved_model.pb").is_file()
    assert (output / "evaluation" / "confusion_matrix.png").is_file()
    assert (output / "finetune" / "final.weights.h5").is_file()
    return lines, json.loads((output / "finetune" / "config.json").read_text())


def test_demo_from_scratch(tmp_path, capsys):
    lines, config = _run(tmp_path, capsys, "--from-scratch")
    for step in range(1, 6):
        assert any(line.startswith(f"== {step}/5") for line in lines)
    assert config["init"] is None and not (tmp_path / "pretrain").exists()


def test_demo_smoke(tmp_path, capsys):
    lines, config = _run(tmp_path, capsys, "--pretrain-epochs", "1")
    for step in range(1, 7):
        assert any(line.startswith(f"== {step}/6") for line in lines)
    assert Path(config["init"]) == tmp_path / "pretrain" / "final.weights.h5"  # fine-tuned from it
    assert len(list((tmp_path / "reconstruction").glob("*_reconstruction.png"))) == 1
    assert len(list((tmp_path / "reconstruction").glob("*_reconstruction.gif"))) == 1

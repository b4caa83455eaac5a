"""`python -m videomae_tf.demo` on tiny settings: every step runs, the last line is the score."""

import json
import re
from pathlib import Path

from videomae_tf.demo import main

TINY = ["--epochs", "1", "--train-per-class", "2", "--val-per-class", "1", "--quiet"]


def _run(output, capsys, *flags):
    assert main(["--output", str(output), *TINY, *flags]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"validation top-1: [01]\.\d\d", lines[-1]), lines[-1]
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

"""`python -m videomae_tf.demo` on tiny settings: every step runs, the last line is the score."""

import re

from videomae_tf.demo import main


def test_demo_smoke(tmp_path, capsys):
    assert main(["--output", str(tmp_path), "--epochs", "1", "--train-per-class", "2",
                 "--val-per-class", "1", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"validation top-1: [01]\.\d\d", lines[-1]), lines[-1]
    for step in range(1, 6):
        assert any(line.startswith(f"== {step}/5") for line in lines)
    assert (tmp_path / "saved_model" / "saved_model.pb").is_file()
    assert (tmp_path / "evaluation" / "confusion_matrix.png").is_file()
    assert (tmp_path / "finetune" / "final.weights.h5").is_file()

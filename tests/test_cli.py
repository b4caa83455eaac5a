"""The videomae-tf command end to end on a tiny synthetic dataset: each command once."""

import json
import re

import numpy as np
import pytest

from videomae_tf.cli import build_parser, main

TINY_SET = ["--set", "model.embed_dim=32", "--set", "model.num_heads=2", "--set", "model.depth=1",
            "--set", "progress=false", "--set", "jit_compile=false",
            "--set", "warmup_epochs=0"]
VIEWS = ["--num-clips", "2", "--num-crops", "1", "--batch-size", "4"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from videomae_tf.data import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), num_train_per_class=2,
                                  num_val_per_class=1)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """`videomae-tf finetune` once: 1 epoch of the synthetic recipe on 16 videos."""
    out = tmp_path_factory.mktemp("run")
    code = main(["finetune", "--recipe", "synthetic", "--output", str(out), "--epochs", "1",
                 "--batch-size", "8", "--train-list", str(data["train"]),
                 "--val-list", str(data["val"]), "--data-root", str(data["root"]),
                 "--set", "data.synthetic=null", "--resume", "auto", *TINY_SET])
    assert code == 0
    return out / "final.weights.h5"


def test_finetune_writes_weights_and_config(trained, capsys):
    assert trained.is_file() and trained.with_name("final.json").is_file()
    config = json.loads((trained.parent / "config.json").read_text())
    assert config["epochs"] == 1 and config["batch_size"] == 8
    assert config["model"]["embed_dim"] == 32 and config["data"]["synthetic"] is None


def test_finetune_config_sources_and_overrides(tmp_path, capsys):
    assert main(["finetune", "--recipe", "k400", "--print-config", "--epochs", "3",
                 "--init", "pt.weights.h5", "--set", "data.sampling_rate=2"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["epochs"] == 3 and config["init"] == "pt.weights.h5"
    assert config["data"]["sampling_rate"] == 2 and config["num_classes"] == 400
    own = tmp_path / "mine.json"
    own.write_text(json.dumps({"num_classes": 5, "lr": 0.1, "data": {"train": "a.txt"}}))
    assert main(["finetune", "--config", str(own), "--print-config", "--lr", "0.2"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config == {"num_classes": 5, "lr": 0.2, "data": {"train": "a.txt"}}


@pytest.mark.parametrize("argv, message", [
    (["finetune", "--recipe", "nope", "--print-config"], "unknown recipe 'nope'"),
    (["finetune", "--print-config"], "needs --recipe NAME or --config FILE"),
    (["finetune", "--config", "missing.json"], "config file not found: missing.json"),
    (["finetune", "--recipe", "k400", "--set", "epochs", "--print-config"], "expects key=value"),
])
def test_finetune_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_evaluate_writes_metrics_dumps_and_confusion_png(trained, data, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--weights", str(trained), "--list", str(data["val"]),
                 "--labels", str(data["labels"]), "--output", str(out), *VIEWS]) == 0
    printed = capsys.readouterr().out
    assert "videos: 8 of 8 (16 views" in printed and re.search(r"^top1: \d\.\d{4}$", printed, re.M)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_videos"] == 8 and metrics["views_per_video_max"] == 2
    assert 0.0 <= metrics["top1"] <= metrics["top5"] <= 1.0
    assert metrics["per_class"][0]["name"] == "moving left"
    for name in ("scores.pkl", "predictions.csv", "class_report.csv", "confusion_matrix.png"):
        assert (out / name).stat().st_size > 0


def test_predict_prints_top_k_names_with_probabilities(trained, data, capsys):
    video = str(data["root"] / "videos" / "val" / "growing_0000.avi")
    assert main(["predict", video, "--weights", str(trained), "--labels", str(data["labels"]),
                 "--top-k", "3", *VIEWS]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == video and len(lines) == 4
    probs = []
    for rank, line in enumerate(lines[1:], 1):
        match = re.fullmatch(rf"  {rank}\. (.+?) +(\d\.\d{{4}})", line)
        assert match, line
        probs.append(float(match.group(2)))
    assert probs == sorted(probs, reverse=True)


def test_export_reloads_with_equal_logits(trained, tmp_path, capsys):
    import tensorflow as tf

    from videomae_tf import load_model

    out = tmp_path / "saved"
    assert main(["export", "--weights", str(trained), "--output", str(out)]) == 0
    assert "max |logit difference|" in capsys.readouterr().out
    model = load_model(trained)
    clip = np.random.default_rng(1).normal(size=(2,) + model.clip_shape).astype(np.float32)
    reloaded = tf.saved_model.load(str(out))
    np.testing.assert_allclose(reloaded.serve(clip).numpy(), model.predict_on_batch(clip),
                               atol=1e-5)
    assert main(["export", "--weights", str(trained), "--output", str(out)]) == 2  # not empty


def test_clear_errors(trained, data, tmp_path, capsys):
    video = str(data["root"] / "videos" / "val" / "growing_0000.avi")
    cases = [
        (["predict", "nothere.mp4", "--weights", str(trained)], "video not found: nothere.mp4"),
        (["predict", video, "--weights", str(tmp_path / "x.weights.h5")], "model not found"),
        (["predict", video, "--weights", str(trained), "--labels", "kinetics400"],
         "kinetics400 has 400 classes but the model has 8"),
        (["predict", video, "--weights", str(trained), "--short-side", "16"],
         "short side 16 is smaller than the 32-pixel crop"),
        (["evaluate", "--weights", str(trained), "--list", str(tmp_path / "none.txt")],
         "annotation list not found"),
        (["export", "--weights", str(tmp_path), "--output", str(tmp_path / "o")], "is a directory"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv


def test_parser_lists_the_commands():
    text = build_parser().format_help()
    for command in ("finetune", "evaluate", "predict", "export"):
        assert command in text
    assert main(["--help"]) == 0

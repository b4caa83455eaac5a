"""The videomae-tf command end to end on a tiny synthetic dataset: each command once."""

import csv
import json
import re

import cv2
import keras
import numpy as np
import pytest

from videomae_tf.cli import build_parser, main
from videomae_tf.data import read_annotations
from videomae_tf.evaluation import load_scores
from videomae_tf.features import feature_names, load_features

TINY_SET = ["--set", "model.embed_dim=32", "--set", "model.num_heads=2", "--set", "model.depth=1",
            "--set", "progress=false", "--set", "jit_compile=false",
            "--set", "warmup_epochs=0"]
VIEWS = ["--num-clips", "2", "--num-crops", "1", "--batch-size", "4"]


@pytest.fixture(scope="module")
def data(synthetic_videos):
    """The session's small synthetic dataset (tests/conftest.py)."""
    return synthetic_videos


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """`videomae-tf finetune` once: 1 epoch of the synthetic recipe on 16 videos, its lists
    read from a gfile URL (ram://: a bucket without a network), the videos from disk."""
    import tensorflow as tf

    out = tmp_path_factory.mktemp("run")
    lists = {}
    tf.io.gfile.makedirs("ram://videomae_tf_test_cli")
    for split in ("train", "val"):
        lists[split] = f"ram://videomae_tf_test_cli/{split}.txt"
        tf.io.gfile.copy(str(data[split]), lists[split], overwrite=True)
    code = main(["finetune", "--recipe", "synthetic", "--output", str(out), "--epochs", "1",
                 "--batch-size", "8", "--train-list", lists["train"],
                 "--val-list", lists["val"], "--data-root", str(data["root"]),
                 "--set", "data.synthetic=null", "--resume", "auto", *TINY_SET])
    assert code == 0
    return out / "final.weights.h5"


def test_finetune_writes_weights_and_config(trained):
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
    config = json.loads(capsys.readouterr().out)  # resolved: the defaults under the file
    from videomae_tf.config import FINETUNE_DEFAULTS

    expected = dict(FINETUNE_DEFAULTS, num_classes=5, lr=0.2,
                    data=dict(FINETUNE_DEFAULTS["data"], train="a.txt"))
    assert config == json.loads(json.dumps(expected))


@pytest.mark.parametrize("argv, message", [
    (["finetune", "--recipe", "nope", "--print-config"], "unknown recipe 'nope'"),
    (["finetune", "--print-config"], "needs --recipe NAME or --config FILE"),
    (["finetune", "--config", "missing.json"], "config file not found: missing.json"),
    (["finetune", "--recipe", "k400", "--set", "epochs", "--print-config"], "expects key=value"),
    (["finetune", "--recipe", "k400", "--epochs", "3", "--set", "epochs=5", "--print-config"],
     "epochs is given twice with different values"),
    (["finetune", "--recipe", "k400", "--set", "model.img_size=160", "--print-config"],
     "model.img_size=160 disagrees with input_size=224"),
    (["pretrain", "--set", "model.num_frames=4", "--print-config"],
     "model.num_frames=4 disagrees with num_frames=8"),
    (["finetune", "--recipe", "k400", "--set", "epoch=5", "--print-config"],
     "unknown finetune config keys ['epoch']"),
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
    # the metrics again, from the per-video scores it dumped
    scores = load_scores(out / "scores.pkl")
    assert scores.labels.tolist() == [r.label for r in read_annotations(data["val"])]
    ranked = np.argsort(-scores.probs, axis=1)
    assert metrics["top1"] == pytest.approx(np.mean(ranked[:, 0] == scores.labels))
    in_top5 = (ranked[:, :5] == scores.labels[:, None]).any(axis=1)
    assert metrics["top5"] == pytest.approx(np.mean(in_top5))
    assert metrics["per_class"][0]["name"] == "moving left"
    with open(out / "predictions.csv") as f:
        assert [int(row["prediction"]) for row in csv.DictReader(f)] == ranked[:, 0].tolist()
    with open(out / "class_report.csv") as f:
        assert len(list(csv.DictReader(f))) == 8  # one row per class
    assert cv2.imread(str(out / "confusion_matrix.png")).ndim == 3


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


def test_predict_in_bf16_gives_the_fp32_ranking(trained, data, capsys):
    """--precision bf16 builds the model under mixed_bfloat16: same top classes as fp32,
    probabilities within bf16's error."""
    video = str(data["root"] / "videos" / "val" / "growing_0000.avi")
    results = {}
    for precision in ("fp32", "bf16"):
        assert main(["predict", video, "--weights", str(trained), "--top-k", "2", "--json",
                     "--precision", precision, *VIEWS]) == 0
        results[precision] = json.loads(capsys.readouterr().out)[0]["top"]
    assert [t["name"] for t in results["bf16"]] == [t["name"] for t in results["fp32"]]
    for half, full in zip(results["bf16"], results["fp32"]):
        assert abs(half["probability"] - full["probability"]) < 0.03


def test_precision_is_checked_and_a_saved_model_refuses_bf16(trained, tmp_path, capsys):
    assert main(["predict", "x.mp4", "--weights", str(trained), "--precision", "fp8"]) == 2
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
    from videomae_tf.evaluation import load_inference_model
    from videomae_tf.models import load_model

    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="SavedModel, which runs as it was exported"):
        load_inference_model(tmp_path / "saved", dtype="mixed_bfloat16")
    with pytest.raises(ValueError, match="dtype must be one of float32, mixed_bfloat16"):
        load_model(trained, dtype="bf16")


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
    for command in ("finetune", "evaluate", "predict", "export", "features", "linear-probe"):
        assert command in text
    assert main(["--help"]) == 0


@pytest.mark.parametrize("fmt, module", [("onnx", "onnxruntime"), ("openvino", "openvino"),
                                         ("litert", "ai_edge_litert")])
def test_export_formats_run_in_their_own_runtime(trained, tmp_path, capsys, fmt, module):
    pytest.importorskip(module, reason=f"{fmt} runtime not installed")
    from videomae_tf import load_model
    from videomae_tf.export import EXPORT_FORMATS, load_exported

    assert main(["export", "--weights", str(trained), "--format", fmt,
                 "--output", str(tmp_path / "model")]) == 0
    printed = capsys.readouterr().out
    assert f"{fmt} written to" in printed and "max |logit difference|" in printed
    written = tmp_path / f"model{EXPORT_FORMATS[fmt][0]}"
    assert written.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial")]
    model = load_model(trained)
    clip = np.random.default_rng(2).normal(size=(3,) + model.clip_shape).astype(np.float32)
    np.testing.assert_allclose(load_exported(written, fmt)(clip), model.predict_on_batch(clip),
                               atol=1e-4)


@pytest.mark.parametrize("runtime, module, precision", [
    ("onnx", "onnxruntime", "fp32"), ("openvino", "openvino", "fp32"),
    ("openvino", "openvino", "bf16")])
def test_predict_runs_in_an_exported_runtime_cached_once(trained, data, tmp_path, capsys,
                                                         monkeypatch, runtime, module,
                                                         precision):
    """--runtime exports into the cache once (a second run converts nothing), leaves the
    weights' folder as it was and gives Keras's ranking and probabilities."""
    pytest.importorskip(module, reason=f"{runtime} not installed")
    monkeypatch.setenv("VIDEOMAE_TF_CACHE", str(tmp_path / "cache"))
    video = str(data["root"] / "videos" / "val" / "growing_0000.avi")
    beside = sorted(trained.parent.iterdir())
    results = []
    for engine in ("keras", runtime, runtime):
        assert main(["predict", video, "--weights", str(trained), "--top-k", "3", "--json",
                     "--runtime", engine, "--precision", precision, *VIEWS]) == 0
        results.append(json.loads(capsys.readouterr().out)[0]["top"])
        if engine != "keras":
            exports = sorted((tmp_path / "cache" / "engines").iterdir())
            assert len(exports) == 1 and not exports[0].name.startswith(".")
    assert sorted(trained.parent.iterdir()) == beside
    tolerance = 1e-4 if precision == "fp32" else 0.03
    for top in results[1:]:
        assert [t["name"] for t in top] == [t["name"] for t in results[0]]
        for engine, reference in zip(top, results[0]):
            assert abs(engine["probability"] - reference["probability"]) < tolerance


def test_runtime_is_checked_before_the_model_loads(trained, tmp_path, capsys):
    assert main(["predict", "x.mp4", "--weights", str(trained), "--runtime", "tensorrt"]) == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err
    (tmp_path / "v.mp4").write_bytes(b"")
    video = str(tmp_path / "v.mp4")
    assert main(["predict", video, "--weights", str(trained), "--runtime", "onnx",
                 "--precision", "bf16"]) == 2
    assert capsys.readouterr().err.splitlines()[0].endswith(
        "--precision bf16 runs on keras or openvino, not on onnx")
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    assert main(["predict", video, "--weights", str(tmp_path / "saved"),
                 "--runtime", "openvino"]) == 2
    assert "is a SavedModel, which runs on keras" in capsys.readouterr().err


def test_features_then_linear_probe(trained, data, tmp_path, capsys):
    videos = data["root"] / "videos"
    out = tmp_path / "features"
    assert main(["features", str(videos), "--weights", str(trained), "--output", str(out),
                 "--batch-size", "4"]) == 0
    assert "features: 24 written, 0 already there, 0 failed" in capsys.readouterr().out
    assert (out / "train" / "growing_0000.npy").is_file()
    assert main(["features", str(videos), "--weights", str(trained), "--output", str(out)]) == 0
    assert "features: 0 written, 24 already there" in capsys.readouterr().out
    # the lists' paths are relative to the data root; the folder run named them from videos/
    h5 = tmp_path / "features.h5"
    assert main(["features", str(data["train"]), "--weights", str(trained), "--output",
                 str(h5)]) == 0
    assert main(["features", str(data["val"]), "--weights", str(trained), "--output",
                 str(h5)]) == 0
    capsys.readouterr()
    assert main(["linear-probe", "--features", str(h5), "--train-list", str(data["train"]),
                 "--val-list", str(data["val"]), "--output", str(tmp_path / "probe"),
                 "--epochs", "3", "--batch-size", "8"]) == 0
    metrics = json.loads(capsys.readouterr().out.split("\nprobe written")[0])
    assert metrics["num_train"] == 16 and metrics["num_val"] == 8
    # the saved probe on the validation features gives the top-1 it reported
    records = read_annotations(data["val"], root=data["root"])
    val_x = load_features(h5, feature_names([r.path for r in records], data["root"]))
    logits = keras.saving.load_model(tmp_path / "probe" / "probe.keras").predict(val_x, verbose=0)
    labels = [r.label for r in records]
    assert metrics["val_top1"] == pytest.approx(np.mean(logits.argmax(1) == labels))
    assert main(["linear-probe", "--features", str(out), "--train-list", str(data["train"])]) == 2
    assert "has no pooled features for 16 of 16 videos" in capsys.readouterr().err


def test_predict_timeline_writes_csv_json_png(trained, data, tmp_path, capsys):
    video = str(data["root"] / "videos" / "val" / "growing_0000.avi")  # 32 frames at 16 fps
    assert main(["predict", video, "--weights", str(trained), "--timeline", "--stride", "0.25",
                 "--output", str(tmp_path), "--top-k", "2", "--sampling-rate", "2"]) == 0
    # 8 frames every 2nd: a 15-frame span; starts 0, 4, 8, 12, 16 (4 frames = 0.25 s)
    assert "5 windows every 0.25 s" in capsys.readouterr().out
    rows = (tmp_path / "growing_0000.timeline.csv").read_text().splitlines()
    assert len(rows) == 6 and rows[1].startswith("0,0.000,0.938,")
    # 960 wide; a 40-pixel title band, 22 pixels per class that wins a window, a 34-pixel axis
    winners = {row[3] for row in csv.reader(rows[1:])}  # the class1 column
    picture = cv2.imread(str(tmp_path / "growing_0000.timeline.png"))
    assert picture.shape == (40 + 22 * len(winners) + 34, 960, 3)


def test_new_usage_errors(trained, data, tmp_path, capsys):
    video = str(data["root"] / "videos" / "val" / "growing_0000.avi")
    cases = [
        (["export", "--weights", str(trained), "--format", "onnx", "--output",
          str(tmp_path / "m.tflite")], "onnx exports are .onnx files"),
        (["predict", video, "--weights", str(trained), "--sampler", "segment", "--num-clips", "5"],
         "--sampler segment takes exactly 2 clips"),
        (["predict", video, "--weights", str(trained), "--num-crops", "4"],
         "--num-crops must be 1, 2 or 3"),
        (["predict", video, "--weights", str(trained), "--timeline", "--stride", "0"],
         "--stride must be a positive number"),
        (["features", str(tmp_path), "--weights", str(trained), "--output", str(tmp_path / "f")],
         "holds no videos"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv

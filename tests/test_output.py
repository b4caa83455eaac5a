"""What a person sees of a run: a quiet start, plain progress lines in a log file, the
curves picture, and the pretraining reconstruction picture in TensorBoard."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from videomae_tf.training.curves import read_log, render_curves
from videomae_tf.training.progress import TrainingProgress

REPO = Path(__file__).resolve().parents[1]
TF_STARTUP = ("absl::InitializeLog", "cudart_stub", "cuInit", "oneDNN", "TF_ENABLE_ONEDNN")


@pytest.fixture(scope="module")
def data(synthetic_videos):
    """The session's small synthetic dataset (tests/conftest.py)."""
    return synthetic_videos


def test_a_finetune_logged_to_a_file_reads_top_to_bottom(data, tmp_path):
    log = tmp_path / "run.log"
    command = [sys.executable, "-m", "videomae_tf.cli", "finetune", "--recipe", "synthetic",
               "--output", str(tmp_path / "run"), "--epochs", "3", "--batch-size", "8",
               "--train-list", str(data["train"]), "--val-list", str(data["val"]),
               "--data-root", str(data["root"]), "--set", "data.synthetic=null",
               "--set", "model.depth=1"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    with open(log, "w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                              timeout=300)
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\x1b[" not in text and "\r" not in text, "control codes in a log file"
    shown = text
    if _tensorflow_version() < (2, 21):  # 2.20 logs its first XLA compile through absl once
        shown = "\n".join(line for line in text.splitlines()
                          if "Compiled cluster using XLA" not in line
                          and "before absl::InitializeLog" not in line)
    for marker in TF_STARTUP:
        assert marker not in shown, f"TensorFlow start-up line in the log: {marker}\n{text}"
    epoch_lines = [line for line in text.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"], text
    assert all("loss" in line and "val_top1" in line for line in epoch_lines)
    curves = cv2.imread(str(tmp_path / "run" / "curves.png"))
    # the picture of the whole log (drawn again after the last epoch)
    np.testing.assert_array_equal(curves, render_curves(
        read_log(tmp_path / "run" / "logs" / "log.csv"), "VideoMAEClassifier: training curves"))
    assert (curves[:30] < 128).any(), "the curves picture has a title"
    summary = json.loads(text[text.index("{"):])
    assert summary["step"] == 3 * summary["steps_per_epoch"]


def _tensorflow_version():
    import tensorflow as tf

    return tuple(int(part) for part in tf.__version__.split(".")[:2])


def test_the_start_is_quiet():
    """TensorFlow, imported by whatever needs it first after quiet_start, prints nothing;
    --verbose (no quiet_start) shows its start-up lines."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    script = ("import sys; from videomae_tf.startup import quiet_start; "
              "quiet_start(verbose=len(sys.argv) > 1); import keras; "
              "print(keras.ops.convert_to_numpy(keras.ops.ones(2)).sum())")
    quiet = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           cwd=REPO, env=env, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr.strip() == "", quiet.stderr
    assert quiet.stdout.strip() == "2.0"
    loud = subprocess.run([sys.executable, "-c", script, "--verbose"], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=120)
    assert loud.returncode == 0 and any(m in loud.stderr for m in TF_STARTUP), loud.stderr


#: Commands that answer without TensorFlow, JAX or torch (``--help``, listings, the
#: resolved config, argument errors): ``main`` on each, in one process.
ANSWERED_AT_ONCE = [["--help"], ["finetune", "--help"], ["predict", "--help"], ["zoo"],
                    ["zoo", "videomae_vit_b_k400_ft"],
                    ["finetune", "--recipe", "synthetic", "--print-config"],
                    ["pretrain", "--recipe", "synthetic", "--print-config"],
                    ["predict", "x.mp4", "--weights", "w.weights.h5", "--top-k", "many"],
                    ["finetune", "--recipe", "no_such_recipe"], ["no-such-command"]]


def test_help_listings_and_argument_errors_import_no_framework():
    script = ("import json, sys\nfrom videomae_tf.cli import main\n"
              f"codes = [main(argv) for argv in {ANSWERED_AT_ONCE!r}]\n"
              "loaded = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
              "print(json.dumps({'codes': codes, 'loaded': loaded}), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["loaded"] == [], report
    assert report["codes"] == [0, 0, 0, 0, 0, 0, 0, 2, 2, 2], report


def test_progress_on_a_pipe_is_one_plain_line_per_epoch():
    import io

    stream = io.StringIO()
    progress = TrainingProgress(stream=stream, every_seconds=3600)
    for epoch in range(2):
        progress.start_epoch(epoch, 2, steps=5)
        for index in range(1, 6):
            progress.step(index, dict(loss=1.0 / index, top1=0.5, lr=1e-3))
        progress.end_epoch(dict(epoch=epoch + 1, step=5 * (epoch + 1), lr=1e-3, train_loss=0.4,
                                train_top1=0.5, val_top1=0.75, seconds=1.5))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "epoch 1/2  step 5  lr 1.00e-03  loss 0.4000  top1 0.5000  val_top1 0.7500  (1.5 s)",
        "epoch 2/2  step 10  lr 1.00e-03  loss 0.4000  top1 0.5000  val_top1 0.7500  (1.5 s)"]


def test_long_epochs_also_report_within_the_epoch():
    import io

    stream = io.StringIO()
    progress = TrainingProgress(stream=stream, every_seconds=0.0)
    progress.start_epoch(0, 1, steps=3)
    for index in range(1, 4):
        progress.step(index, dict(loss=0.5, lr=1e-3))
    lines = stream.getvalue().splitlines()
    assert lines == ["epoch 1/1  step 1/3  loss 0.5000  lr 1.00e-03",
                     "epoch 1/1  step 2/3  loss 0.5000  lr 1.00e-03"]


def test_curves_picture_of_a_log(tmp_path):
    from videomae_tf.training.curves import save_curves

    log = tmp_path / "log.csv"
    log.write_text("epoch,step,lr,train_loss,train_top1,val_loss,val_top1,seconds\n"
                   "1,10,1e-3,2.0,0.2,1.9,0.3,1.0\n2,20,5e-4,1.0,0.6,1.2,0.5,1.0\n"
                   "3,30,1e-4,0.5,0.9,0.9,0.8,1.0\n")
    path = save_curves(log, tmp_path / "curves.png", "run")
    image = cv2.imread(str(path))
    assert image.shape[1] == 3 * 420  # loss, top-1 and lr panels
    blue_loss_line = (np.abs(image.astype(int) - [200, 90, 30]).sum(axis=-1) < 60).sum()
    assert blue_loss_line > 100
    assert not list(tmp_path.glob(".*partial"))


def test_pretraining_logs_reconstruction_pictures_to_tensorboard(tmp_path, data):
    import tensorflow as tf

    from videomae_tf.training.pretrain import pretrain
    from videomae_tf.config import merge

    from tests.pretrain.pretrain_helpers import tiny_pretrain_config

    config = tiny_pretrain_config(data, tmp_path / "run", epochs=2, steps_per_epoch=2)
    config = merge(config, dict(data=dict(val=str(data["val"]))))
    pretrain(config)
    events = list((tmp_path / "run" / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    images = []
    for event_file in events:
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    images.append((event.step, value))
    assert [step for step, _ in images] == [2, 4], "one picture per epoch"
    width, height, png = tf.make_ndarray(images[0][1].tensor)
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (int(height), int(width)) and int(height) >= 3 * 96
    assert (tmp_path / "run" / "curves.png").is_file()

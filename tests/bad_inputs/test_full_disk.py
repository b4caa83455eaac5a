"""A full disk (a file-size limit on the command, RLIMIT_FSIZE, so that every write past
it fails with "File too large" the way a full file system fails it) never leaves a
truncated output under its final name, never deletes what was there, never ends in a
signal, and says what happened in one line."""

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiny_configs import TINY
from videomae_tf import VideoMAEClassifier, save_weights

REPO = Path(__file__).resolve().parents[2]
LIMIT = 20_000  # bytes: below every output here (a tiny model's weights are ~120 kB)


def _limited(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, do not kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def run_limited(argv, cwd, limit=LIMIT):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3",
               KERAS_BACKEND="tensorflow")
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, preexec_fn=_limited(limit))


def _leftovers(folder):
    return sorted(p.name for p in Path(folder).rglob(".partial*"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "cls.weights.h5"
    return save_weights(VideoMAEClassifier(num_classes=3, init_scale=1.0, **TINY), path)


def test_final_weights_on_a_full_disk_keep_the_previous_pair(weights, tmp_path):
    code = ("from tests.tiny_configs import TINY\n"
            "from videomae_tf import VideoMAEClassifier, save_weights\n"
            "try:\n"
            "    save_weights(VideoMAEClassifier(num_classes=3, **TINY), 'final.weights.h5',"
            " step=9)\n"
            "except OSError as e:\n"
            "    print('refused:', e)\n")
    (tmp_path / "final.weights.h5").write_bytes(weights.read_bytes())
    (tmp_path / "final.json").write_text(weights.with_name("cls.json").read_text())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    done = run_limited(["-c", code], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # not a crash (-11 before: h5py)
    assert "refused: [Errno 28] not enough room to write final.weights.h5" in done.stdout
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old pair, intact
    assert json.loads((tmp_path / "final.json").read_text()).get("step") is None


def test_export_on_a_full_disk_fails_cleanly(weights, tmp_path):
    pytest.importorskip("tf2onnx", reason="ONNX export not installed")
    done = run_limited(["-m", "videomae_tf.cli", "export", "--weights", str(weights),
                        "--format", "onnx", "--output", "model"], tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines[-2].startswith("videomae-tf export: error:") and "rerun with --debug" in lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written


def test_features_on_a_full_disk_fail_cleanly(weights, tmp_path, shared_data):
    video = shared_data / "videos" / "arm_wrestling_k400.mp4"
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "mine.txt").write_text("not ours")
    done = run_limited(["-m", "videomae_tf.cli", "features", str(video), "--weights",
                        str(weights), "--output", "features", "--token-map"], tmp_path,
                       limit=300)  # the pooled features fit, the token map does not
    assert done.returncode == 1, done.stderr[-2000:]
    assert "File too large" in done.stderr
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == ["mine.txt"]


def test_the_converter_on_a_full_disk_writes_nothing_and_exits_1(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch

    from tests.convert.convert_helpers import hf_classifier, official_state_dict

    torch.save({"model": official_state_dict(hf_classifier())}, tmp_path / "src.pth")
    done = run_limited(["-m", "checkpoints_convert", "src.pth", "--output", "out.weights.h5",
                        "--keras", "out.keras", "--set", "num_heads=2", "--no-progress", "-q"],
                       tmp_path, limit=60_000)
    assert done.returncode == 1, done.stderr[-2000:]  # not a signal (negative), not a crash
    assert "writing the outputs failed" in done.stderr and "not enough room" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.pth"]
    assert not _leftovers(tmp_path)

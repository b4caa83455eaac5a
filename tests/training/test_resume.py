"""Crash safety: a run killed with SIGKILL after a mid-run checkpoint resumes to the same
weights as an uninterrupted run; a half-written checkpoint never becomes the latest."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.training.training_helpers import tiny_classifier, latest_step

from videomae_tf.training import TrainingCheckpoint, make_optimizer

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def _child(mode, directory):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(HERE / "resume_child.py"), mode, str(directory)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)



@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    child = _child("train", tmp_path)
    deadline = time.time() + 240
    while latest_step(tmp_path / "ckpt") < 4:  # mid-run: 12 steps in all
        assert child.poll() is None, f"child ended early:\n{child.stdout.read()}"
        assert time.time() < deadline, "no checkpoint in time"
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    killed_at = latest_step(tmp_path / "ckpt")
    assert 4 <= killed_at < 12, "the child should die mid-run"

    resumed = _child("resume", tmp_path)
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output
    result = json.loads(output.strip().splitlines()[-1])
    assert result["resumed_from"] == killed_at
    assert result["step"] == 12
    assert result["max_abs_diff"] <= 1e-6


def test_a_partial_save_leaves_the_last_good_checkpoint(tmp_path):
    model = tiny_classifier()
    optimizer = make_optimizer(model, lr=1e-3, total_steps=10)
    keeper = TrainingCheckpoint(tmp_path, model, optimizer)
    keeper.save(3)
    good = [w.copy() for w in model.get_weights()]
    # what a kill during the save of step 5 leaves: data files but no state update
    (tmp_path / "ckpt-5_temp").mkdir()
    (tmp_path / "ckpt-5_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 10)
    (tmp_path / "ckpt-5.index").write_bytes(b"garbage")
    assert keeper.latest.endswith("ckpt-3")
    model.set_weights([w + 1 for w in good])
    assert keeper.restore("auto") == 3
    for got, want in zip(model.get_weights(), good):
        np.testing.assert_array_equal(got, want)

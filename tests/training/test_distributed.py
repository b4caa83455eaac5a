"""MirroredStrategy on 2 logical CPUs gives the single-device result (dropout off, float64)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.slow
def test_mirrored_equals_single_device():
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
    done = subprocess.run([sys.executable, str(HERE / "mirrored_child.py")], env=env,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["moved"] > 1e-3  # training changed the weights
    assert result["diff_accumulated"] <= 1e-10  # float64: round-off only
    assert result["diff_per_worker"] <= 1e-10
    single, mirrored = result["single_eval"], result["mirrored_eval"]
    assert mirrored["count"] == single["count"] == 21
    assert mirrored["top1"] == pytest.approx(single["top1"])
    assert mirrored["loss"] == pytest.approx(single["loss"], abs=1e-5)  # losses are float32

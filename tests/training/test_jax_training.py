"""The JAX backend as a training path: DataParallel over 2 host devices equals one device
(fine-tuning with and without accumulation, pretraining; float64), resuming from a
checkpoint continues the same run, a ModelParallel layout gives one device's outputs,
and the synthetic recipe learns through the CLI on JAX as it does on TensorFlow."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def jax_env(devices=2):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(REPO),
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    env.pop("TF_CONFIG", None)
    return env


@pytest.mark.slow
def test_data_parallel_and_model_parallel_equal_one_device(tmp_path):
    done = subprocess.run([sys.executable, str(HERE / "jax_child.py"), str(tmp_path)],
                          env=jax_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["devices"] == 2 and report["replicas"] == "DataParallel"
    for mode in ("finetune", "pretrain"):
        result = report[mode]
        assert result["step"] == 12
        assert result["moved"] > 1e-3  # the weights did train
        assert result["data_parallel"] <= 1e-8  # float64: round-off (amplified by Adam)
        assert result["train_loss"][-1] < result["train_loss"][0]
    assert report["finetune"]["accumulated"] <= 1e-8  # 2 micro-batches per step
    resume = report["resume"]
    assert resume["resumed_from"].endswith("ckpt-4") and resume["step"] == 12
    assert resume["diff"] <= 1e-8
    assert report["model_parallel"]["qkv_sharding"] == "P(None, 'model')"
    assert report["model_parallel"]["diff"] <= 1e-12


@pytest.mark.slow
def test_synthetic_recipe_learns_on_jax_through_the_cli(tmp_path):
    # 3 of the recipe's 7 epochs (0.95 here; TensorFlow's full run is test_accuracy's)
    command = [sys.executable, "-m", "videomae_tf.cli", "finetune", "--recipe", "synthetic",
               "--output", str(tmp_path / "run"), "--set", "progress=false", "--epochs", "3"]
    done = subprocess.run(command, env=jax_env(devices=1), cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    print(f"JAX synthetic recipe: val top-1 {summary['val_top1']:.3f}")
    assert summary["step"] == summary["epochs"] * summary["steps_per_epoch"]
    assert (tmp_path / "run" / "final.weights.h5").is_file()
    assert summary["val_top1"] >= 0.85  # chance: 0.125


def _train_on_jax(directory, resume):
    done = subprocess.run([sys.executable, str(HERE / "engine_switch_child.py"), str(directory),
                           resume], env=jax_env(devices=1), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_tensorflow_checkpoint_resumes_on_jax(tmp_path):
    """One checkpoint format: the run switches engine mid-way and ends where it would have."""
    import numpy as np

    from tests.training.engine_switch_child import train

    uninterrupted = train(str(tmp_path), "auto")  # on TensorFlow, here; checkpoints at steps 4 and 8
    assert uninterrupted["backend"] == "tensorflow"
    switched = _train_on_jax(tmp_path / "jax", str(tmp_path / "ckpt-4"))
    assert switched["backend"] == "jax" and switched["step"] == uninterrupted["step"] == 8
    for a, b in zip(switched["weights"], uninterrupted["weights"]):
        np.testing.assert_allclose(a, b, atol=1e-5)

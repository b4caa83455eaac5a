"""Multi-worker training (MultiWorkerMirroredStrategy from TF_CONFIG) on 127.0.0.1: two
worker processes equal one process over the same global batches, a killed worker stops
the other in bounded time, and a restart resumes both from the chief's checkpoint.

Fine-tuning's equality with one process is checked where the killed pair, restarted, ends
(to 1e-8 of the uninterrupted one-process run); pretraining's in an uninterrupted pair."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.training.training_helpers import latest_step

HERE = Path(__file__).parent
REPO = HERE.parents[1]
SURVIVOR_DEADLINE = 150  # seconds: TF's health check + the collective timeout (60 s) + slack


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start(mode, out, worker=None, ports=None, *extra):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("TF_CONFIG", None)
    if worker is not None:
        env["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
            "task": {"type": "worker", "index": worker}})
    return subprocess.Popen([sys.executable, str(HERE / "multiworker_child.py"), mode, str(out),
                             *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=300):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return json.loads(output.strip().splitlines()[-1])


def weights(path):
    saved = np.load(path)
    return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def max_diff(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


def run_cluster(mode, out, *extra):
    ports = free_ports(2)
    workers = [start(mode, out, i, ports, *extra) for i in range(2)]
    return [finish(w) for w in workers]


@pytest.fixture(scope="module")
def single_runs(tmp_path_factory):
    """The one-process reference of each mode (float64, same init and data); the two
    processes run side by side (no collectives between them)."""
    folders = {mode: tmp_path_factory.mktemp(f"single_{mode}") for mode in ("finetune", "pretrain")}
    processes = {mode: start(mode, folder) for mode, folder in folders.items()}
    out = {}
    for mode, process in processes.items():
        assert finish(process)["replicas"] == 1
        out[mode] = weights(folders[mode] / "weights-0.npz")
    return out


@pytest.mark.slow
def test_two_pretraining_workers_equal_one_process(single_runs, tmp_path):
    mode = "pretrain"  # fine-tuning's: test_killed_worker_stops_the_other_and_both_resume
    results = run_cluster(mode, tmp_path)
    assert [r["worker"] for r in results] == [0, 1]
    assert [r["chief"] for r in results] == [True, False]
    assert all(r["replicas"] == 2 and r["step"] == 12 for r in results)
    chief, other = weights(tmp_path / "weights-0.npz"), weights(tmp_path / "weights-1.npz")
    assert max_diff(chief, other) <= 1e-6  # all-reduced: the same update on both
    assert max_diff(chief, single_runs[mode]) <= 1e-8  # float64: round-off only
    start_weights = [w * 0 for w in chief]
    assert max_diff(chief, start_weights) > 1e-3  # the weights did train



@pytest.mark.slow
@pytest.mark.parametrize("shared_folder", [False, True], ids=["own_folders", "shared_folder"])
def test_killed_worker_stops_the_other_and_both_resume(shared_folder, single_runs, tmp_path):
    # own folders: two machines without shared storage, only the chief's folder holds
    # checkpoints; shared folder: both write into one (NFS, GCS), the chief alone keeps them.
    folders = [tmp_path / "w0", tmp_path / ("w0" if shared_folder else "w1")]
    ports = free_ports(2)
    workers = [start("finetune", folders[i], i, ports, "--checkpoints",
                     str(folders[i] / "ckpt"), "--slow") for i in range(2)]
    deadline = time.time() + 240
    while latest_step(folders[0] / "ckpt") < 4:  # 12 steps in all, a checkpoint every 2
        assert all(w.poll() is None for w in workers), "a worker ended early"
        assert time.time() < deadline, "no checkpoint in time"
        time.sleep(0.1)
    # SIGKILL; or SIGTERM, which TensorFlow's multi-worker runtime catches itself: ours
    # must still end at once
    kill = signal.SIGTERM if shared_folder else signal.SIGKILL
    os.kill(workers[1].pid, kill)
    killed = time.time()
    workers[1].communicate(timeout=30)
    assert workers[1].returncode == -kill
    output, _ = workers[0].communicate(timeout=SURVIVOR_DEADLINE)
    print(f"survivor exited {time.time() - killed:.0f} s after the {kill.name}")
    assert workers[0].returncode == 1, output
    assert "WorkerLostError" in output and "restart every worker" in output, output
    saved = latest_step(folders[0] / "ckpt")
    assert 4 <= saved < 12
    if not shared_folder:
        assert not list(folders[1].glob("ckpt/ckpt-*")), "only the chief keeps checkpoints"

    ports = free_ports(2)
    restarted = [start("finetune", folders[i], i, ports, "--checkpoints",
                       str(folders[i] / "ckpt")) for i in range(2)]
    results = [finish(w) for w in restarted]
    # a SIGKILL can land between a worker's save and its cleanup; the restart removes it
    assert not list(folders[1].glob("ckpt/.worker1/*")), "the other worker's scratch is gone"
    assert all(r["step"] == 12 for r in results)
    assert results[0]["resumed_from"].endswith(f"ckpt-{saved}")
    assert results[1]["resumed_from"] == f"the chief's checkpoint ckpt-{saved}"
    assert all(r["replicas"] == 2 for r in results)
    for i in range(2):  # both end where an uninterrupted one-process run ends (float64)
        assert max_diff(weights(folders[i] / f"weights-{i}.npz"), single_runs["finetune"]) <= 1e-8


@pytest.mark.slow
def test_cli_workers_share_the_work_and_only_the_chief_writes(tmp_path):
    from videomae_tf.data import make_synthetic_dataset

    data = make_synthetic_dataset(tmp_path / "synthetic", num_train_per_class=2,
                                  num_val_per_class=1)
    ports = free_ports(2)
    runs = []
    for worker in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({
            "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
            "task": {"type": "worker", "index": worker}}))
        command = [sys.executable, "-m", "videomae_tf.cli", "finetune", "--recipe", "synthetic",
                   "--output", str(tmp_path / f"run{worker}"), "--epochs", "2",
                   "--batch-size", "4", "--train-list", str(data["train"]),
                   "--val-list", str(data["val"]), "--data-root", str(data["root"]),
                   "--set", "data.synthetic=null", "--set", "model.depth=1",
                   "--set", "progress=false", "--set", "warmup_epochs=0"]
        runs.append(subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True))
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    summaries = [json.loads(out[out.index("{"):]) for out in outputs]
    for worker, (out, summary) in enumerate(zip(outputs, summaries)):
        assert "2 replicas on 2 workers" in out and "global batch 8" in out, out
        assert summary["replicas"] == 2 and summary["workers"] == 2
        assert summary["step"] == 2 * summary["steps_per_epoch"] == 2 * (16 // 8)
        assert summary["chief"] == (worker == 0)
    with open(tmp_path / "run0" / "logs" / "log.csv") as f:
        last = list(csv.DictReader(f))[-1]  # the chief's log of the last epoch
    for summary in summaries:
        assert summary["train_loss"] == pytest.approx(float(last["train_loss"]), rel=1e-6)
    assert summaries[0]["weights"] == str(tmp_path / "run0" / "final.weights.h5")
    assert summaries[1]["weights"] is None  # it wrote none, and says so
    for key in ("val_loss", "val_top1", "train_loss"):  # one evaluation, all-reduced
        assert summaries[0][key] == summaries[1][key]
    for name in ("final.weights.h5", "config.json", "logs"):
        assert (tmp_path / "run0" / name).exists()
        assert not (tmp_path / "run1" / name).exists()


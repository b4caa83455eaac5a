"""tf.data service (issue 25, part 3): packed pipelines computed by a dispatcher's workers
on 127.0.0.1 give every video once per pass (DYNAMIC sharding) and the views the local
pipeline gives; fine-tuning reads from them through ``data.service``; a killed worker does
not stop the reader; ``videomae-tf data-service`` stops cleanly on SIGTERM; a dispatcher
that is not there, a malformed address or an annotation list are one line each."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from videomae_tf.cli import main
from videomae_tf.data import make_synthetic_dataset
from videomae_tf.data.packing import pack_videos, packed_finetune_dataset, packed_validation_dataset
from videomae_tf.data.service import distribute, parse_address, start_dispatcher, start_worker
from videomae_tf.errors import InputError

REPO = Path(__file__).resolve().parents[2]
VIEW = dict(num_frames=4, sampling_rate=2, crop_size=32)


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("service")
    paths = make_synthetic_dataset(folder / "synthetic", num_train_per_class=4,
                                   num_val_per_class=1)
    out = {"paths": paths}
    for split, shards in (("train", 4), ("val", 2)):
        out[split] = str(folder / f"{split}_pack")
        pack_videos(str(paths[split]), out[split], root=paths["root"], shards=shards,
                    short_side=0, progress=False)
    return out


@pytest.fixture(scope="module")
def cluster():
    """A dispatcher and two workers in this process."""
    dispatcher = start_dispatcher()
    workers = [start_worker(dispatcher.target, host="localhost") for _ in range(2)]
    yield dispatcher.target
    for server in workers + [dispatcher]:
        server.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_give_every_video_once_with_the_local_views(packs, cluster):
    local = list(packed_validation_dataset(packs["train"], short_side=32, **VIEW)
                 .as_numpy_iterator())
    remote = list(distribute(packed_validation_dataset(packs["train"], short_side=32, **VIEW),
                             cluster).as_numpy_iterator())
    assert len(remote) == len(local) == 32
    unmatched = list(range(len(local)))
    for clip, label in remote:  # order depends on the workers; the elements must not
        match = next(i for i in unmatched
                     if local[i][1] == label and np.array_equal(local[i][0], clip))
        unmatched.remove(match)
    assert not unmatched
    # training views: one pass gives each video's labels num_sample times, no more
    train = packed_finetune_dataset(packs["train"], num_sample=2, seed=3, **VIEW)
    labels = [int(y) for _, y in distribute(train, cluster).as_numpy_iterator()]
    assert sorted(labels) == sorted([c for c in range(8) for _ in range(8)])


def test_finetune_reads_its_training_data_from_the_service(packs, cluster, tmp_path, capsys):
    argv = ["finetune", "--recipe", "synthetic", "--train-list", packs["train"], "--val-list",
            packs["val"], "--output", str(tmp_path / "run"), "--epochs", "2",
            "--set", "progress=false", "--set", f"data.service={cluster}"]
    # a new job each epoch; distribute() has no local fallback: every batch came from the
    # workers (that the recipe learns from packs: test_packing)
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{"):])
    assert summary["step"] == 2 * summary["steps_per_epoch"] > 0
    rows = (tmp_path / "run" / "logs" / "log.csv").read_text().splitlines()
    assert len(rows) == 3 and "val_top1" in rows[0]  # two epochs
    losses = [float(r.split(",")[rows[0].split(",").index("train_loss")]) for r in rows[1:]]
    assert all(np.isfinite(losses)), losses
    assert (tmp_path / "run" / "final.weights.h5").is_file()


def test_bad_service_settings_are_one_line_and_write_nothing(packs, tmp_path, capsys):
    port = _free_port()  # nothing listens there
    base = ["finetune", "--recipe", "synthetic", "--train-list", packs["train"],
            "--output", str(tmp_path / "run"), "--set", "progress=false"]
    a_list = [str(packs["paths"]["train"]), "--data-root", str(packs["paths"]["root"])]
    cases = [(f"grpc://127.0.0.1:{port}", [packs["train"]],
              f"no tf.data service dispatcher answers at 127.0.0.1:{port} within 10 s"),
             ("localhost", [packs["train"]], "expected a dispatcher address grpc://HOST:PORT"),
             ("grpc://localhost:70000", [packs["train"]], "(port 1-65535)"),
             (f"grpc://127.0.0.1:{port}", a_list, "data.train must be a pack")]
    for address, train, expected in cases:
        argv = base + ["--set", f"data.service={address}", "--train-list", *train]
        start = time.monotonic()
        assert main(argv) == 2
        first = capsys.readouterr().err.splitlines()[0]
        assert expected in first and "data.service=" in first, first
        assert time.monotonic() - start < 60
        assert not (tmp_path / "run").exists()
    with pytest.raises(InputError, match="expected a dispatcher address"):
        parse_address("grpc://host")


def _worker(port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "videomae_tf.cli", "data-service",
                             "--worker", f"grpc://localhost:{port}", "--host", "localhost"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_a_killed_worker_does_not_stop_the_reader(packs):
    dispatcher = start_dispatcher()
    port = int(dispatcher.target.rsplit(":", 1)[1])
    workers = [_worker(port) for _ in range(2)]
    try:
        for w in workers:
            assert "data-service: worker of" in w.stdout.readline()
        train = packed_finetune_dataset(packs["train"], num_sample=1, seed=0, repeat=True,
                                        **VIEW)
        elements = iter(distribute(train, dispatcher.target))
        for _ in range(20):
            next(elements)
        workers[1].kill()
        workers[1].wait(30)
        labels = {int(next(elements)[1]) for _ in range(100)}  # 3 passes, from one worker
        assert labels == set(range(8))
        del elements  # released while its dispatcher is up (else its cleanup retries ~30 s)
        workers[0].send_signal(signal.SIGTERM)
        output, _ = workers[0].communicate(timeout=30)
        assert workers[0].returncode == 0 and "data-service: stopped" in output, output
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
        dispatcher.stop()


def test_data_service_command_refuses_a_bad_address(capsys):
    assert main(["data-service", "--worker", "nowhere"]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert "--worker='nowhere': expected a dispatcher address grpc://HOST:PORT" in first
    assert main(["data-service", "--dispatcher", "70000"]) == 2
    assert "expected a port 0-65535" in capsys.readouterr().err.splitlines()[0]

"""How workers agree on where to resume (the logic of ``Trainer._restore_together``), with
the collective replaced by a table of what each worker reported: the real exchange is
tested with two processes in test_multiworker."""

import numpy as np
import pytest

from tests.training.training_helpers import tiny_classifier

from videomae_tf.training import Trainer, make_optimizer
from videomae_tf.training.engine import WorkerDisagreementError

PLAN = (4, 3, 2, 10)  # steps per epoch, epochs, replicas, variables


class ReportedRows:
    """Stands in for the steps' collectives: every worker 'reported' ``others``."""

    def __init__(self, steps, others):
        self.steps, self.others, self.broadcasts = steps, others, 0
        self.workers = 1 + len(others)

    def gather_from_workers(self, row):
        return np.array([row] + self.others, dtype=np.float64)

    def broadcast_from_chief(self, variables):
        self.broadcasts += 1


def trainer_with(others, tmp_path, save_at=None):
    model = tiny_classifier()
    optimizer = make_optimizer(model, lr=1e-3, total_steps=12)
    trainer = Trainer(model, optimizer, checkpoint_dir=tmp_path / "ckpt", progress=False)
    if save_at is not None:
        trainer.checkpoint.save(save_at)
    trainer.steps = ReportedRows(trainer.steps, others)
    trainer.workers = trainer.steps.workers
    return trainer


def test_all_take_the_chief_step_and_weights(tmp_path):
    trainer = trainer_with([[-1, *PLAN]], tmp_path, save_at=4)  # worker 1: no checkpoint
    assert trainer.restore("auto", PLAN) == 4
    assert trainer.resumed_from.endswith("ckpt-4") and trainer.steps.broadcasts == 1


def test_a_fresh_start_still_shares_the_chief_weights(tmp_path):
    trainer = trainer_with([[-1, *PLAN]], tmp_path)
    assert trainer.restore("auto", PLAN) == 0 and trainer.resumed_from is None
    assert trainer.steps.broadcasts == 1


def test_a_different_plan_is_refused(tmp_path):
    trainer = trainer_with([[-1, 4, 5, 2, 10]], tmp_path)  # worker 1 plans 5 epochs
    with pytest.raises(WorkerDisagreementError, match=r"worker 1 plans \[4, 5, 2, 10\].*same config"):
        trainer.restore("auto", PLAN)


def test_a_stale_checkpoint_on_another_worker_is_refused(tmp_path):
    trainer = trainer_with([[8, *PLAN]], tmp_path, save_at=4)
    with pytest.raises(WorkerDisagreementError, match="worker 1 finds a checkpoint at step 8.*step 4"):
        trainer.restore("auto", PLAN)
    assert trainer.steps.broadcasts == 0  # nothing was loaded


def test_a_worker_that_could_not_read_stops_all(tmp_path):
    trainer = trainer_with([[-2, *PLAN]], tmp_path, save_at=4)
    with pytest.raises(WorkerDisagreementError, match="worker 1 could not read"):
        trainer.restore("auto", PLAN)


def test_the_chief_names_a_missing_checkpoint_path(tmp_path):
    trainer = trainer_with([[-1, *PLAN]], tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        trainer.restore(str(tmp_path / "nowhere" / "ckpt-3"), PLAN)

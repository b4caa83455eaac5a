"""Crash-safe training checkpoints: weights, optimizer state and the step, by name.

A ``tf.train.CheckpointManager`` writes ``ckpt-<step>`` files and only then points its
``checkpoint`` state file at them (an atomic rename), so a process killed during a save
leaves the previous checkpoint as the latest. Variables are stored under their Keras
paths (model, including dropout RNG state, and optimizer), not through the object graph,
so what is saved is exactly the list a reader sees in ``tf.train.list_variables``.
On multi-worker runs every worker must save (the save is collective); only the chief
writes into ``directory``, the others into a scratch folder that is removed.
"""

import os
import shutil

import tensorflow as tf


def _by_path(variables, what):
    table = {}
    for variable in variables:
        if variable.path in table:
            raise RuntimeError(f"two {what} variables share the path {variable.path!r}")
        table[variable.path] = getattr(variable, "value", variable)
    return table


class TrainingCheckpoint:
    """Save and restore the training state of a model + optimizer.

    Create it under the strategy scope, after the optimizer is built.
    """

    def __init__(self, directory, model, optimizer, *, keep=3, chief=True, worker_id=0):
        self.directory = os.fspath(directory)
        self.chief = chief
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="train_step")
        self._checkpoint = tf.train.Checkpoint(
            model=_by_path(model.variables, "model"),
            optimizer=_by_path(optimizer.variables, "optimizer"),
            step=self.step,
        )
        where = self.directory if chief else os.path.join(self.directory, f".worker{worker_id}")
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, where, max_to_keep=keep, checkpoint_name="ckpt"
        )

    @property
    def latest(self):
        """Path prefix of the newest complete checkpoint, or None."""
        return tf.train.latest_checkpoint(self.directory)

    def save(self, step):
        """Write a checkpoint for ``step`` (optimizer steps done); returns its path prefix."""
        self.step.assign(step)
        path = self._manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self._manager.directory, ignore_errors=True)
        return path

    def restore(self, path="auto"):
        """Load ``path`` ('auto': the latest, if any); returns the restored step or None."""
        if path == "auto":
            path = self.latest
            if path is None:
                return None
        elif os.path.isdir(path):
            found = tf.train.latest_checkpoint(path)
            if found is None:
                raise FileNotFoundError(f"no checkpoint in {path}")
            path = found
        self._checkpoint.restore(path).assert_consumed()
        return int(self.step.numpy())

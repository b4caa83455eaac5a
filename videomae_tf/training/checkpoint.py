"""Crash-safe training checkpoints: weights, optimizer state and the step, by name.

A ``tf.train.CheckpointManager`` writes ``ckpt-<step>`` files and only then points its
``checkpoint`` state file at them (an atomic rename), so a process killed during a save
leaves the previous checkpoint as the latest. Variables are stored under their Keras
paths (model, including dropout RNG state, and optimizer), not through the object graph,
so what is saved is exactly the list a reader sees in ``tf.train.list_variables``.

On the TensorFlow backend the checkpoint holds the model's own variables. On other
backends (JAX) it holds host copies, filled from the model before a save and copied back
after a restore: the same files, the same names, on every backend.

On multi-worker runs every worker must save (the save is collective); only the chief
writes into ``directory``, the others into a scratch folder that is removed.
"""

import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from videomae_tf.errors import InputError


def checkpoint_step(path):
    """The step a ``.../ckpt-<step>`` path prefix was saved at."""
    return int(os.fspath(path).rsplit("-", 1)[1])


class TrainingCheckpoint:
    """Save and restore the training state of a model + optimizer.

    Create it under the strategy (or distribution) scope, after the optimizer is built.
    """

    def __init__(self, directory, model, optimizer, *, keep=3, chief=True, worker_id=0):
        self.directory = os.fspath(directory)
        self.chief = chief
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="train_step")
        self._pairs = []  # (Keras variable, the tf.Variable that the checkpoint stores)
        self._checkpoint = tf.train.Checkpoint(
            model=self._stored(model.variables, "model"),
            optimizer=self._stored(optimizer.variables, "optimizer"),
            step=self.step,
        )
        where = self.directory if chief else os.path.join(self.directory, f".worker{worker_id}")
        if not chief:  # ours: a worker killed between its save and the cleanup left it
            shutil.rmtree(where, ignore_errors=True)
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, where, max_to_keep=keep, checkpoint_name="ckpt"
        )

    def _stored(self, variables, what):
        """{path: variable} of what the checkpoint stores for ``variables``."""
        native = keras.backend.backend() == "tensorflow"
        table = {}
        for variable in variables:
            if variable.path in table:
                raise RuntimeError(f"two {what} variables share the path {variable.path!r}")
            if native:
                table[variable.path] = getattr(variable, "value", variable)
            else:
                value = np.asarray(keras.ops.convert_to_numpy(variable.value))
                if value.dtype.kind == "i":  # TensorFlow's counters are int64, JAX's int32
                    value = value.astype(np.int64)
                with tf.device("/cpu:0"):
                    copy = tf.Variable(value, trainable=False)
                self._pairs.append((variable, copy))
                table[variable.path] = copy
        return table

    @property
    def latest(self):
        """Path prefix of the newest complete checkpoint, or None."""
        return tf.train.latest_checkpoint(self.directory)

    def resolve(self, path="auto"):
        """The checkpoint prefix ``path`` names ('auto': the latest, or None if there is
        none; a folder: its latest); raises FileNotFoundError for a folder without one."""
        if path == "auto":
            return self.latest
        path = os.fspath(path)
        if os.path.isdir(path):
            found = tf.train.latest_checkpoint(path)
            if found is None and os.path.isdir(os.path.join(path, "checkpoints")):  # a run folder
                found = tf.train.latest_checkpoint(os.path.join(path, "checkpoints"))
            if found is None:
                raise FileNotFoundError(f"no checkpoint in {path}")
            return found
        if not tf.io.gfile.exists(path + ".index"):
            raise FileNotFoundError(f"no checkpoint at {path} (expected {path}.index)")
        return path

    def save(self, step):
        """Write a checkpoint for ``step`` (optimizer steps done); returns its path prefix."""
        self.step.assign(step)
        for keras_variable, copy in self._pairs:
            value = np.asarray(keras.ops.convert_to_numpy(keras_variable.value))
            copy.assign(value.astype(copy.dtype.as_numpy_dtype))
        path = self._manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self._manager.directory, ignore_errors=True)
        return path

    def restore(self, path="auto"):
        """Load ``path`` ('auto': the latest, if any); returns the restored step or None."""
        path = self.resolve(path)
        if path is None:
            return None
        status = None
        try:
            status = self._checkpoint.restore(path)
            status.assert_consumed()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            if status is not None:
                status.expect_partial()  # no list of unmatched values when it is collected
            first = str(e).strip().splitlines()[0].split(". ")[0][:160]
            raise InputError(f"checkpoint {path} does not fit this run's model and optimizer "
                             f"({first}): it was written by another kind of run (pretraining "
                             "vs fine-tuning) or another model size; to start from pretrained "
                             "weights use init, not resume") from None
        for keras_variable, copy in self._pairs:
            keras_variable.assign(copy.numpy().astype(keras_variable.dtype))
        return int(self.step.numpy())

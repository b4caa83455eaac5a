"""The JAX backend's steps: the same step as TensorFlow's (micro-batch gradient
accumulation, loss sum / global batch, clipping and layer-decayed AdamW inside the
optimizer), written with Keras' stateless API and compiled with ``jax.jit``.

With a ``keras.distribution`` (DataParallel or ModelParallel) the variables carry their
layouts and each global batch is placed on the mesh split along its batch axis; XLA
then inserts the gradient all-reduce, so one jitted function serves one device, all
local devices and a multi-host pod. Input comes from the same tf.data pipelines (on the
host CPU), one shard per process.
"""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import tensorflow as tf
from keras import ops

from videomae_tf.errors import InputError
from videomae_tf.training.distribute import distribution_replicas
from videomae_tf.training.step_math import (eval_sums, global_norm, main_logits, split_batch,
                                             top_k_hits)


def _numpy(batch):
    return tf.nest.map_structure(lambda x: np.asarray(x), batch)


class JaxSteps:
    """Train and evaluation steps of ``model`` on JAX, under ``distribution`` (or one device)."""

    def __init__(self, model, optimizer, loss_fn, *, distribution=None, accum_steps=1):
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            raise TypeError("the JAX path does not scale losses: train in float32 or "
                            "mixed_bfloat16")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.distribution = distribution
        self.replicas = distribution_replicas(distribution)
        self.workers = jax.process_count()
        self.worker_index = jax.process_index()
        self.chief = self.worker_index == 0
        self.accum_steps = int(accum_steps)
        self._train = jax.jit(self._train_fn, donate_argnums=(0, 1, 2))
        self._eval = jax.jit(self._eval_fn)

    def scope(self):
        """Where the model, optimizer and checkpoint variables must be created."""
        if self.distribution is None:
            import contextlib

            return contextlib.nullcontext()
        return self.distribution.scope()

    # ----- placing a batch on the devices -------------------------------------------
    def _place(self, batch):
        """This process's part of a global batch -> global jax arrays on the mesh."""
        if self.distribution is None:
            return tf.nest.map_structure(jnp.asarray, batch)

        def place(x):
            global_shape = (x.shape[0] * self.workers,) + x.shape[1:]
            sharding = self.distribution.get_data_layout(global_shape).backend_layout
            if self.workers == 1:
                return jax.device_put(x, sharding)
            return jax.make_array_from_process_local_data(sharding, x, global_shape)

        return tf.nest.map_structure(place, batch)

    # ----- one step ---------------------------------------------------------------
    def _gradients(self, trainable, non_trainable, inputs, targets, global_batch):
        def loss_of(trainable, non_trainable, inputs, targets):
            outputs, non_trainable = self.model.stateless_call(
                trainable, non_trainable, inputs, training=True)
            per_example = self.loss_fn(targets, outputs)
            hits = (jnp.zeros((), "float32") if isinstance(targets, dict)
                    else top_k_hits(targets, main_logits(outputs), 1))
            loss = ops.sum(per_example) / global_batch  # in the loss's own precision
            return loss, (non_trainable, ops.cast(ops.sum(per_example), "float32"), hits)

        grad_fn = jax.grad(loss_of, has_aux=True)
        n = self.accum_steps
        if n == 1:
            grads, (non_trainable, loss_sum, hits) = grad_fn(trainable, non_trainable, inputs,
                                                             targets)
            return grads, non_trainable, loss_sum, hits

        def micro_batches(x):  # (B, ...) -> (n, B / n, ...), each micro-batch spread out
            if x.shape[0] % n:
                raise InputError(f"accum_steps={n} must divide the global batch ({x.shape[0]})")
            return jnp.swapaxes(x.reshape((x.shape[0] // n, n) + x.shape[1:]), 0, 1)

        def body(carry, micro):
            grads, non_trainable, loss_sum, hits = carry
            g, (non_trainable, l, h) = grad_fn(trainable, non_trainable, *micro)
            return (jax.tree_util.tree_map(jnp.add, grads, g), non_trainable, loss_sum + l,
                    hits + h), None

        start = (jax.tree_util.tree_map(jnp.zeros_like, trainable), non_trainable,
                 jnp.zeros((), "float32"), jnp.zeros((), "float32"))
        micro = jax.tree_util.tree_map(micro_batches, (inputs, targets))
        (grads, non_trainable, loss_sum, hits), _ = jax.lax.scan(body, start, micro)
        return grads, non_trainable, loss_sum, hits

    def _train_fn(self, trainable, non_trainable, optimizer_variables, inputs, targets):
        global_batch = jax.tree_util.tree_leaves(inputs)[0].shape[0]
        grads, non_trainable, loss_sum, hits = self._gradients(
            trainable, non_trainable, inputs, targets, global_batch)
        trainable, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable)
        logs = dict(loss=loss_sum / global_batch, top1=hits / global_batch,
                    grad_norm=global_norm(grads))
        if isinstance(targets, dict):
            del logs["top1"]
        return trainable, non_trainable, optimizer_variables, logs

    def train_step(self, iterator):
        """One optimizer step on the next global batch; returns its logs as floats."""
        inputs, targets = split_batch(self._place(next(iterator)))
        lr = float(ops.convert_to_numpy(self.optimizer.learning_rate))  # before the step
        state = [[v.value for v in variables] for variables in (
            self.model.trainable_variables, self.model.non_trainable_variables,
            self.optimizer.variables)]
        *state, logs = self._train(*state, inputs, targets)
        for variables, values in zip((self.model.trainable_variables,
                                      self.model.non_trainable_variables,
                                      self.optimizer.variables), state):
            for variable, value in zip(variables, values):
                variable.assign(value)
        return dict({k: float(v) for k, v in logs.items()}, lr=lr)

    def _eval_fn(self, trainable, non_trainable, clips, labels, weights):
        logits, _ = self.model.stateless_call(trainable, non_trainable, clips, training=False)
        return eval_sums(labels, logits, weights)

    def eval_sums(self, data):
        """(loss sum, top-1 hits, top-5 hits, count) over a dataset of (clip, label) batches.

        Each process evaluates its shard; batches are padded to split evenly over the
        devices and the padding is weighted out.
        """
        if self.workers > 1:
            data = data.unbatch().shard(self.workers, self.worker_index).batch(
                max(int(data.element_spec[0].shape[0] or 1), 1))
        trainable = [v.value for v in self.model.trainable_variables]
        non_trainable = [v.value for v in self.model.non_trainable_variables]
        totals = np.zeros(4)
        for batch in data.as_numpy_iterator():
            clips, labels = split_batch(batch)
            size = len(clips)
            padded = -(-size // self.replicas) * self.replicas
            weights = (np.arange(padded) < size).astype("float32")
            pad = [(0, padded - size)]
            clips = np.pad(clips, pad + [(0, 0)] * (clips.ndim - 1))
            labels = np.pad(labels, pad + [(0, 0)] * (labels.ndim - 1))
            out = self._eval(trainable, non_trainable,
                             *self._place_local((clips, labels, weights)))
            totals += [float(v) for v in out]
        if self.workers > 1:
            from jax.experimental import multihost_utils

            totals = np.asarray(multihost_utils.process_allgather(totals)).sum(axis=0)
        return list(totals)

    def _place_local(self, batch):
        """A batch this process alone evaluates, split over its own devices."""
        if self.distribution is None or self.workers > 1:
            return tf.nest.map_structure(jnp.asarray, batch)
        return self._place(batch)

    # ----- data ---------------------------------------------------------------------
    def distribute(self, data_for, epoch, done, data_per_worker):
        """An iterator over this process's part of the global batches of ``epoch``
        (numpy), its first ``done`` skipped."""
        if data_per_worker:
            # one input pipeline per process, its batch the process's share of the global one
            context = tf.distribute.InputContext(num_input_pipelines=self.workers,
                                                 input_pipeline_id=self.worker_index,
                                                 num_replicas_in_sync=self.workers)
            dataset = data_for(epoch, context)
            return (_numpy(b) for b in dataset.skip(done).as_numpy_iterator())
        dataset = data_for(epoch).skip(done)

        def my_part(x):  # a global batch -> this process's contiguous slice
            share = x.shape[0] // self.workers
            return x[self.worker_index * share:(self.worker_index + 1) * share]

        return (tf.nest.map_structure(my_part, _numpy(b)) for b in dataset.as_numpy_iterator())

    # ----- agreement between processes --------------------------------------------
    def gather_from_workers(self, row):
        """Every process's ``row`` (numbers), as an array (processes, len(row))."""
        row = np.asarray(row, np.float64)
        if self.workers == 1:
            return row[None]
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(row))

    def broadcast_from_chief(self, variables):
        """Give every process the chief's (process 0's) values of ``variables``."""
        if self.workers == 1:
            return
        from jax.experimental import multihost_utils

        values = [np.asarray(keras.ops.convert_to_numpy(v.value)) for v in variables]
        for variable, value in zip(variables, multihost_utils.broadcast_one_to_all(values)):
            variable.assign(np.asarray(value))

"""The TensorFlow backend's steps: one compiled step around ``strategy.run``, the same on
one device, several GPUs (Mirrored), several workers (MultiWorkerMirrored, from
TF_CONFIG) and TPUs (TPUStrategy). Keras ``fit`` fails under MultiWorkerMirroredStrategy
(keras-team/keras#20585), so the loop is ours.

One optimizer step takes one global batch. Each replica splits its share into
``accum_steps`` micro-batches and sums their gradients (XLA compiled), the replicas'
gradients are summed (``all_reduce``), and the optimizer applies them (clipping first,
inside the optimizer). Losses are per example, summed and divided by the GLOBAL batch,
so the sum over replicas and micro-batches is the batch mean.
"""

import keras
import numpy as np
import tensorflow as tf

from videomae_tf.training.distribute import worker_index, worker_count
from videomae_tf.training.step_math import (eval_sums, global_norm, main_logits, split_batch,
                                             top_k_hits)


def _batch_size(inputs):
    return tf.nest.flatten(inputs)[0].shape[0]


class TensorFlowSteps:
    """Train and evaluation steps of ``model`` under a ``tf.distribute`` strategy."""

    def __init__(self, model, optimizer, loss_fn, *, strategy=None, accum_steps=1,
                 jit_compile=True):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        self.workers = worker_count(self.strategy)
        self.worker_index = worker_index(self.strategy)
        self.chief = self.worker_index == 0
        self.accum_steps = int(accum_steps)
        self.loss_scaling = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        self.inner_optimizer = optimizer.inner_optimizer if self.loss_scaling else optimizer
        if self.replicas > 1 and getattr(self.inner_optimizer, "reduce_gradients", True):
            raise TypeError(
                "with several replicas the Trainer sums gradients itself; use LayerDecayAdamW "
                "(reduce_gradients=False), so that they are not summed twice"
            )
        self._gradients = tf.function(self._local_gradients, jit_compile=jit_compile)
        self._forward = tf.function(lambda clips: model(clips, training=False),
                                    jit_compile=jit_compile)
        # On one replica the update compiles too (ViT-S AdamW: ~125 -> ~50 ms a step on CPU);
        # with several, the optimizer's cross-replica bookkeeping must stay outside XLA.
        self._update = (tf.function(self._apply_gradients, jit_compile=True)
                        if jit_compile and self.replicas == 1 else self._apply_gradients)
        self._train_step = tf.function(self._distributed_train_step)
        self._eval_step = tf.function(self._distributed_eval_step)

    def scope(self):
        """Where the model, optimizer and checkpoint variables must be created."""
        return self.strategy.scope()

    # ----- one step ---------------------------------------------------------------
    def _local_gradients(self, clips, labels, global_batch):
        """Gradients of sum(loss) / global_batch over this replica's batch, in micro-batches.

        Returns (grads, loss sum, top-1 hits) of the replica's examples.
        """
        variables = self.model.trainable_variables
        n = self.accum_steps

        def micro_step(clips, labels):
            with tf.GradientTape() as tape:
                logits = self.model(clips, training=True)
                per_example = self.loss_fn(labels, logits)
                loss = tf.reduce_sum(per_example) / tf.cast(global_batch, per_example.dtype)
                if self.loss_scaling:
                    loss = self.optimizer.scale_loss(loss)
            grads = tape.gradient(loss, variables)
            grads = [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables)]
            hits = (tf.constant(0.0) if isinstance(labels, dict)
                    else top_k_hits(labels, main_logits(logits), 1))
            return grads, tf.cast(tf.reduce_sum(per_example), tf.float32), hits

        if n == 1:
            return micro_step(clips, labels)
        batch = _batch_size(clips)
        if batch is None or batch % n:
            # ValueError, not InputError: raised while TensorFlow traces (autograph re-raises
            # only built-in exception types)
            raise ValueError(
                f"accum_steps={n} must divide the per-replica batch ({batch}); use "
                f"drop_remainder=True and a global batch divisible by {n} x {self.replicas}"
            )

        def split(x):
            return tf.reshape(x, [n, batch // n] + x.shape[1:].as_list())

        clips = tf.nest.map_structure(split, clips)
        labels = tf.nest.map_structure(split, labels)

        def body(i, grads, loss_sum, hits):
            g, l, h = micro_step(tf.nest.map_structure(lambda x: x[i], clips),
                                 tf.nest.map_structure(lambda x: x[i], labels))
            return i + 1, [a + b for a, b in zip(grads, g)], loss_sum + l, hits + h

        start = (0, [tf.zeros(v.shape, v.dtype) for v in variables], 0.0, 0.0)
        _, grads, loss_sum, hits = tf.while_loop(
            lambda i, *_: i < n, body, start, parallel_iterations=1
        )
        return grads, loss_sum, hits

    def _apply_gradients(self, grads):
        """One optimizer update with the summed gradients; returns (their global norm,
        unscaled, and the rate this step used)."""
        grad_norm = global_norm(grads)
        if self.loss_scaling:
            grad_norm = grad_norm / tf.cast(self.optimizer.dynamic_scale, grad_norm.dtype)
        lr = tf.cast(self.inner_optimizer.learning_rate, tf.float32)
        self.optimizer.apply(grads, self.model.trainable_variables)
        return grad_norm, lr

    def _replica_train_step(self, clips, labels):
        context = tf.distribute.get_replica_context()
        local_batch = tf.shape(tf.nest.flatten(clips)[0])[0]
        global_batch = tf.cast(local_batch * self.replicas, tf.float32)
        grads, loss_sum, hits = self._gradients(clips, labels, global_batch)
        if self.replicas > 1:
            grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            loss_sum, hits = context.all_reduce(tf.distribute.ReduceOp.SUM, [loss_sum, hits])
        grad_norm, lr = self._update(grads)
        logs = dict(loss=loss_sum / global_batch, top1=hits / global_batch,
                    grad_norm=grad_norm, lr=lr)
        if isinstance(labels, dict):  # no classes, no top-1
            del logs["top1"]
        return logs

    def _distributed_train_step(self, iterator):
        clips, labels = split_batch(next(iterator))
        out = self.strategy.run(self._replica_train_step, args=(clips, labels))
        # every replica holds the same (all-reduced) values
        return {k: self.strategy.experimental_local_results(v)[0] for k, v in out.items()}

    def train_step(self, iterator):
        """One optimizer step on the next global batch; returns its logs as floats."""
        return {k: float(v) for k, v in self._train_step(iterator).items()}

    def _replica_eval_step(self, clips, labels):
        return eval_sums(labels, self._forward(clips))

    def _distributed_eval_step(self, clips, labels):
        out = self.strategy.run(self._replica_eval_step, args=(clips, labels))
        return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in out]

    def eval_sums(self, data):
        """(loss sum, top-1 hits, top-5 hits, count) over a dataset of (clip, label) batches."""
        totals = [0.0, 0.0, 0.0, 0.0]
        for batch in self.strategy.experimental_distribute_dataset(data):
            clips, labels = split_batch(batch)
            totals = [t + float(v) for t, v in zip(totals, self._eval_step(clips, labels))]
        return totals

    # ----- data ---------------------------------------------------------------------
    def distribute(self, data_for, epoch, done, data_per_worker):
        """An iterator over the global batches of ``epoch``, its first ``done`` skipped."""
        if not data_per_worker:
            dataset = data_for(epoch)
            return iter(self.strategy.experimental_distribute_dataset(
                dataset.skip(done) if done else dataset))

        def per_worker(context):
            dataset = data_for(epoch, context)
            batches_per_step = self.replicas // context.num_input_pipelines
            return dataset.skip(done * batches_per_step) if done else dataset

        return iter(self.strategy.distribute_datasets_from_function(per_worker))

    # ----- agreement between workers ----------------------------------------------
    def _sum_over_workers(self, values, keep_mine):
        """All-reduce (SUM) of ``values`` (float64 arrays) in which each worker's first
        replica contributes its values if ``keep_mine``, every other replica zeros."""
        local_replicas = self.replicas // self.workers

        @tf.function
        def reduce(values):
            def replica_fn(values):
                context = tf.distribute.get_replica_context()
                first = tf.equal(context.replica_id_in_sync_group % local_replicas, 0)
                keep = tf.logical_and(tf.constant(bool(keep_mine)), first)
                mine = [tf.where(keep, v, tf.zeros_like(v)) for v in values]
                return context.all_reduce(tf.distribute.ReduceOp.SUM, mine)
            return self.strategy.run(replica_fn, args=(values,))

        summed = reduce([tf.convert_to_tensor(v) for v in values])
        return [np.asarray(x) for x in self.strategy.experimental_local_results(summed)[0]]

    def gather_from_workers(self, row):
        """Every worker's ``row`` (numbers), as an array (workers, len(row)) in worker order."""
        table = np.zeros((self.workers, len(row)), np.float64)
        table[self.worker_index] = row
        if self.workers == 1:
            return table
        return self._sum_over_workers([table], True)[0]

    def broadcast_from_chief(self, variables):
        """Give every worker the chief's values of ``variables`` (one all-reduce per dtype)."""
        if self.workers == 1:
            return
        values = [np.asarray(keras.ops.convert_to_numpy(v.value)) for v in variables]
        groups = {}
        for i, value in enumerate(values):  # all-reduce packs tensors of one dtype together
            dtype = value.dtype if value.dtype.kind == "f" else np.dtype("float64")
            groups.setdefault(dtype, []).append(i)
        for dtype, indices in groups.items():
            summed = self._sum_over_workers([values[i].astype(dtype) for i in indices], self.chief)
            for i, value in zip(indices, summed):
                variables[i].assign(value.astype(values[i].dtype))

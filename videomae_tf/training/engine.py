"""The training loop: one compiled step around ``strategy.run``, the same on CPU, GPUs,
several workers and TPU (Keras ``fit`` fails under MultiWorkerMirroredStrategy,
keras-team/keras#20585).

One optimizer step takes one global batch from the distributed dataset. Each replica
splits its share into ``accum_steps`` micro-batches and sums their gradients (XLA
compiled), the replicas' gradients are summed (``all_reduce``), and the optimizer applies
them (clipping first, inside the optimizer). Losses are per example, summed and divided
by the GLOBAL batch, so the sum over replicas and micro-batches is the batch mean.

Resuming: a checkpoint holds the step; epoch ``e`` reads ``train_data(e)`` (a function
of the epoch, or the same dataset every epoch) and skips the batches already consumed, so
a deterministic dataset gives a resumed run the same data order as an uninterrupted one.
"""

import math
import time

import keras
import tensorflow as tf

from videomae_tf.training.checkpoint import TrainingCheckpoint
from videomae_tf.training.distribute import is_chief
from videomae_tf.training.logs import RunLog
from videomae_tf.training.losses import classification_loss, soft_target_cross_entropy
from videomae_tf.training.losses import label_smoothing_cross_entropy


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the run stopped without saving that state."""


def _hard_labels(labels):
    return tf.argmax(labels, axis=-1) if len(labels.shape) == 2 else labels


def _top_k_hits(labels, logits, k):
    """How many examples have their label among the k largest logits."""
    k = min(k, logits.shape[-1])
    labels = tf.cast(_hard_labels(labels), tf.int32)
    return tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, tf.cast(logits, tf.float32), k), tf.float32))


def _split_batch(batch):
    """(model inputs, loss targets): a (clip, label) batch, or a dict batch (the
    pretraining pipeline's) that is both the model's input and the loss's target."""
    if isinstance(batch, dict):
        return batch, batch
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError("training data must yield (clip, label) batches or dicts")
    return batch[0], batch[1]


def _batch_size(inputs):
    return tf.nest.flatten(inputs)[0].shape[0]


class Trainer:
    """Fits a classifier (or, on dict batches with a matching ``loss_fn``, a masked
    autoencoder: ``videomae_tf.training.pretrain``) with a custom distributed loop,
    checkpoints and logs.

    Build the model and optimizer under ``strategy.scope()`` first (``finetune`` does).

    Args:
        model: a Keras model mapping clips to logits.
        optimizer: built on ``model.trainable_variables``; ``LayerDecayAdamW`` (or a
            ``LossScaleOptimizer`` around it) when there are several replicas, because
            this loop sums gradients over replicas itself.
        strategy: the ``tf.distribute`` strategy (default: the current one).
        label_smoothing: for integer labels (soft (B, C) labels use soft-target CE).
        loss_fn: ``(labels, logits) -> per-example loss``, replacing the default. With dict
            batches (pretraining) it is ``(batch, model(batch)) -> per-example loss`` and
            no top-1 is computed.
        accum_steps: micro-batches per replica batch (gradient accumulation).
        jit_compile: XLA-compile the forward/backward pass.
        checkpoint_dir: where ``ckpt-<step>`` files go (None: no checkpoints).
        checkpoint_every: also save every N optimizer steps (0: at epoch ends only).
        keep_checkpoints: how many to keep.
        log_dir: TensorBoard + log.csv (None: no logs). log_every: steps between scalars.
        progress: show a progress bar per epoch.
    """

    def __init__(self, model, optimizer, *, strategy=None, label_smoothing=0.0, loss_fn=None,
                 accum_steps=1, jit_compile=True, checkpoint_dir=None, checkpoint_every=0,
                 keep_checkpoints=3, log_dir=None, log_every=10, progress=True):
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError("the Trainer needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
        self.model = model
        self.optimizer = optimizer
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        self.loss_scaling = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        self._inner = optimizer.inner_optimizer if self.loss_scaling else optimizer
        if self.replicas > 1 and getattr(self._inner, "reduce_gradients", True):
            raise TypeError(
                "with several replicas the Trainer sums gradients itself; use LayerDecayAdamW "
                "(reduce_gradients=False), so that they are not summed twice"
            )
        self.loss_fn = loss_fn or (lambda y, logits: classification_loss(y, logits, label_smoothing))
        self.accum_steps = int(accum_steps)
        self.checkpoint_every = int(checkpoint_every or 0)
        self.log_every = int(log_every)
        self.progress = progress
        self.chief = is_chief(self.strategy)
        self.log = RunLog(log_dir if self.chief else None)
        self.checkpoint = None
        if checkpoint_dir is not None:
            worker = getattr(getattr(self.strategy, "cluster_resolver", None), "task_id", 0) or 0
            with self.strategy.scope():
                self.checkpoint = TrainingCheckpoint(
                    checkpoint_dir, model, optimizer, keep=keep_checkpoints,
                    chief=self.chief, worker_id=worker,
                )
        self.step = 0
        self._gradients = tf.function(self._local_gradients, jit_compile=jit_compile)
        self._forward = tf.function(lambda clips: model(clips, training=False), jit_compile=jit_compile)
        self._train_step = tf.function(self._distributed_train_step)
        self._eval_step = tf.function(self._distributed_eval_step)

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
                loss = tf.reduce_sum(per_example) / global_batch
                if self.loss_scaling:
                    loss = self.optimizer.scale_loss(loss)
            grads = tape.gradient(loss, variables)
            grads = [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables)]
            hits = tf.constant(0.0) if isinstance(labels, dict) else _top_k_hits(labels, logits, 1)
            return grads, tf.reduce_sum(per_example), hits

        if n == 1:
            return micro_step(clips, labels)
        batch = _batch_size(clips)
        if batch is None or batch % n:
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

    def _replica_train_step(self, clips, labels):
        context = tf.distribute.get_replica_context()
        local_batch = tf.shape(tf.nest.flatten(clips)[0])[0]
        global_batch = tf.cast(local_batch * self.replicas, tf.float32)
        grads, loss_sum, hits = self._gradients(clips, labels, global_batch)
        if self.replicas > 1:
            grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            loss_sum, hits = context.all_reduce(tf.distribute.ReduceOp.SUM, [loss_sum, hits])
        grad_norm = tf.linalg.global_norm(grads)
        if self.loss_scaling:
            grad_norm = grad_norm / tf.cast(self.optimizer.dynamic_scale, grad_norm.dtype)
        lr = tf.cast(self._inner.learning_rate, tf.float32)
        self.optimizer.apply(grads, self.model.trainable_variables)
        logs = dict(loss=loss_sum / global_batch, top1=hits / global_batch,
                    grad_norm=grad_norm, lr=lr)
        if isinstance(labels, dict):  # no classes, no top-1
            del logs["top1"]
        return logs

    def _distributed_train_step(self, iterator):
        clips, labels = _split_batch(next(iterator))
        out = self.strategy.run(self._replica_train_step, args=(clips, labels))
        # every replica holds the same (all-reduced) values
        return {k: self.strategy.experimental_local_results(v)[0] for k, v in out.items()}

    def _replica_eval_step(self, clips, labels):
        logits = tf.cast(self._forward(clips), tf.float32)
        if len(labels.shape) == 2:
            per_example = soft_target_cross_entropy(labels, logits)
        else:
            per_example = label_smoothing_cross_entropy(labels, logits, 0.0)
        count = tf.cast(tf.shape(clips)[0], tf.float32)
        return (tf.reduce_sum(per_example), _top_k_hits(labels, logits, 1),
                _top_k_hits(labels, logits, 5), count)

    def _distributed_eval_step(self, clips, labels):
        out = self.strategy.run(self._replica_eval_step, args=(clips, labels))
        return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in out]

    # ----- loops --------------------------------------------------------------------
    def evaluate(self, data):
        """Single-view loss / top-1 / top-5 (fractions) over a dataset of (clip, label) batches."""
        totals = [0.0, 0.0, 0.0, 0.0]
        for batch in self.strategy.experimental_distribute_dataset(data):
            clips, labels = _split_batch(batch)
            totals = [t + float(v) for t, v in zip(totals, self._eval_step(clips, labels))]
        loss, top1, top5, count = totals
        if count == 0:
            raise ValueError("the evaluation data is empty")
        return dict(loss=loss / count, top1=top1 / count, top5=top5 / count, count=int(count))

    def restore(self, resume="auto"):
        """Load a checkpoint ('auto': the latest, if any; or a path); returns the step."""
        if not resume:
            return self.step
        if self.checkpoint is None:
            if resume == "auto":
                return self.step
            raise ValueError("resuming from a path needs a Trainer with a checkpoint_dir")
        restored = self.checkpoint.restore(resume)
        if restored is not None:
            self.step = restored
        return self.step

    def _distribute(self, data_for, epoch, done, data_per_worker):
        """The distributed dataset of ``epoch``, with its first ``done`` steps skipped."""
        if not data_per_worker:
            dataset = data_for(epoch)
            return self.strategy.experimental_distribute_dataset(
                dataset.skip(done) if done else dataset)

        def per_worker(context):
            dataset = data_for(epoch, context)
            batches_per_step = self.replicas // context.num_input_pipelines
            return dataset.skip(done * batches_per_step) if done else dataset

        return self.strategy.distribute_datasets_from_function(per_worker)

    def fit(self, train_data, *, epochs, steps_per_epoch=None, val_data=None, resume="auto",
            eval_every=1, callback=None, data_per_worker=False):
        """Train to ``epochs``; returns {"step", "history": [per-epoch rows], "checkpoint"}.

        Args:
            train_data: a ``tf.data.Dataset`` of (clip, label) global batches (int labels
                or soft (B, C) labels; drop_remainder=True), or ``fn(epoch) -> Dataset``.
            steps_per_epoch: optimizer steps per epoch (default: the dataset's cardinality).
            val_data: dataset evaluated every ``eval_every`` epochs and after the last.
            resume: 'auto' (latest checkpoint if any), a checkpoint path, or False.
            callback: ``fn(step, logs)`` called after every step.
            data_per_worker: ``train_data`` is ``fn(epoch, input_context)`` returning this
                input pipeline's share in PER-REPLICA batches (``input_context.
                get_per_replica_batch_size``), for ``distribute_datasets_from_function``:
                each worker then reads only its shard of the files.

        Raises ``NonFiniteLossError`` on a NaN/inf loss, after rolling the model and
        optimizer back to the last checkpoint (which stays the latest).
        """
        data_for = train_data if callable(train_data) else (lambda epoch: train_data)
        if steps_per_epoch is None:
            if data_per_worker:
                raise ValueError("pass steps_per_epoch with data_per_worker=True")
            steps_per_epoch = int(data_for(0).cardinality())
            if steps_per_epoch <= 0:
                raise ValueError("the training data has no known length: pass steps_per_epoch")
        self.restore(resume)
        history = []
        for epoch in range(self.step // steps_per_epoch, epochs):
            started = time.time()
            done = self.step - epoch * steps_per_epoch
            iterator = iter(self._distribute(data_for, epoch, done, data_per_worker))
            bar = keras.utils.Progbar(steps_per_epoch, stateful_metrics=["lr"]) if self.progress else None
            sums = {}
            for batch_index in range(done, steps_per_epoch):
                try:
                    logs = {k: float(v) for k, v in self._train_step(iterator).items()}
                except tf.errors.OutOfRangeError:
                    raise ValueError(
                        f"the training data of epoch {epoch} ended after {batch_index} batches; "
                        f"steps_per_epoch is {steps_per_epoch}"
                    ) from None
                if not math.isfinite(logs["loss"]):
                    self._stop_on_nonfinite(logs["loss"])
                self.step += 1
                sums = {k: sums.get(k, 0.0) + logs[k] for k in ("loss", "top1") if k in logs}
                if bar is not None:
                    bar.update(batch_index + 1,
                               [(k, logs[k]) for k in ("loss", "top1", "lr") if k in logs])
                if self.step % self.log_every == 0:
                    self.log.scalars(self.step, logs, "train")
                if self.checkpoint and self.checkpoint_every and self.step % self.checkpoint_every == 0:
                    self.checkpoint.save(self.step)
                if callback is not None:
                    callback(self.step, logs)
            last = epoch + 1 == epochs
            row = dict(epoch=epoch + 1, step=self.step, lr=logs["lr"],
                       **{f"train_{k}": v / max(steps_per_epoch - done, 1) for k, v in sums.items()})
            if val_data is not None and ((epoch + 1) % eval_every == 0 or last):
                metrics = self.evaluate(val_data)
                row.update({f"val_{k}": v for k, v in metrics.items() if k != "count"})
                self.log.scalars(epoch + 1, {k: row[f"val_{k}"] for k in ("loss", "top1", "top5")}, "val")
            row["seconds"] = round(time.time() - started, 3)
            if self.checkpoint and not (self.checkpoint_every and self.step % self.checkpoint_every == 0):
                self.checkpoint.save(self.step)
            self.log.row(row)
            self.log.flush()
            history.append(row)
        return dict(step=self.step, history=history,
                    checkpoint=self.checkpoint.latest if self.checkpoint else None)

    def _stop_on_nonfinite(self, loss):
        failed_step = self.step + 1
        latest = self.checkpoint.latest if self.checkpoint else None
        if latest is not None:
            self.restore(latest)
        self.log.flush()
        raise NonFiniteLossError(
            f"loss is {loss} at step {failed_step}; stopped. "
            + (f"Last good checkpoint: {latest} (model and optimizer rolled back to it)"
               if latest else "No checkpoint was written before it.")
        )

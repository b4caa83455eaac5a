"""The training loop, the same on every engine: epochs, resuming, checkpoints, logs,
progress. The step beneath it is per backend: ``steps_tf`` (one compiled step around
``strategy.run``: one device, Mirrored, MultiWorkerMirrored from TF_CONFIG, TPUStrategy)
and ``steps_jax`` (``jax.jit`` under a ``keras.distribution``: DataParallel,
ModelParallel, multi-host).

Resuming: a checkpoint holds the step; epoch ``e`` reads ``train_data(e)`` (a function
of the epoch, or the same dataset every epoch) and skips the batches already consumed, so
a deterministic dataset gives a resumed run the same data order as an uninterrupted one.
With several workers the chief's checkpoint decides: the workers compare their plans and
the step each finds, then all take the chief's step and the chief's weights (broadcast),
or all stop with one clear error.
"""

import math
import time

import keras
import tensorflow as tf

from videomae_tf.errors import InputError
from videomae_tf.training.checkpoint import TrainingCheckpoint, checkpoint_step
from videomae_tf.training.logs import RunLog
from videomae_tf.training.losses import classification_loss
from videomae_tf.training.progress import TrainingProgress


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the run stopped without saving that state."""


class WorkerLostError(RuntimeError):
    """A multi-worker run lost a worker (it died, hung or was cut off); the others stop."""


# What a collective raises when a peer is gone (TF's health check aborts it, or it times out).
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.CancelledError, tf.errors.AbortedError)


def _raise_input_error(error):
    """Re-raise a Python input-pipeline error carried in a TensorFlow error as its own
    one line (a list with no readable video); anything else as it is."""
    marker = "NoReadableVideoError: "
    message = str(getattr(error, "message", error))
    if marker not in message:
        raise error
    raise InputError(message.split(marker, 1)[1].splitlines()[0]) from None


class WorkerDisagreementError(RuntimeError):
    """The workers of a multi-worker run do not describe the same run or checkpoint."""


#: What a worker reports when it has no checkpoint, or could not read the one asked for.
_NO_CHECKPOINT, _UNREADABLE = -1, -2


def make_steps(model, optimizer, loss_fn, *, strategy=None, distribution=None, accum_steps=1,
               jit_compile=True):
    """The train/eval steps of the current Keras backend (TensorFlow or JAX)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from videomae_tf.training.steps_tf import TensorFlowSteps

        return TensorFlowSteps(model, optimizer, loss_fn, strategy=strategy,
                               accum_steps=accum_steps, jit_compile=jit_compile)
    if backend == "jax":
        from videomae_tf.training.steps_jax import JaxSteps

        return JaxSteps(model, optimizer, loss_fn, distribution=distribution,
                        accum_steps=accum_steps)
    raise RuntimeError(f"training runs on the tensorflow and jax backends, not {backend!r} "
                       "(KERAS_BACKEND); the torch backend runs inference only")


class Trainer:
    """Fits a classifier (or, on dict batches with a matching ``loss_fn``, a masked
    autoencoder: ``videomae_tf.training.pretrain``) with a distributed loop, checkpoints
    and logs, on the TensorFlow or the JAX backend.

    Build the model and optimizer under the strategy's (or distribution's) scope first
    (``finetune`` does).

    Args:
        model: a Keras model mapping clips to logits.
        optimizer: built on ``model.trainable_variables``; ``LayerDecayAdamW`` (or, on
            TensorFlow, a ``LossScaleOptimizer`` around it) when there are several
            replicas, because this loop sums gradients over replicas itself.
        strategy: TensorFlow: the ``tf.distribute`` strategy (default: the current one).
        distribution: JAX: the ``keras.distribution`` (None: one device).
        label_smoothing: for integer labels (soft (B, C) labels use soft-target CE).
        loss_fn: ``(labels, logits) -> per-example loss``, replacing the default. With dict
            batches (pretraining) it is ``(batch, model(batch)) -> per-example loss`` and
            no top-1 is computed.
        accum_steps: micro-batches per step (gradient accumulation).
        jit_compile: TensorFlow: XLA-compile the forward/backward pass (JAX always does).
        checkpoint_dir: where ``ckpt-<step>`` files go (None: no checkpoints).
        checkpoint_every: also save every N optimizer steps (0: at epoch ends only).
        keep_checkpoints: how many to keep.
        log_dir: TensorBoard + log.csv (None: no logs). log_every: steps between scalars.
        curves_path: where ``fit`` draws the run's curves (loss, top-1, lr) from log.csv.
        progress: show progress: a live bar per epoch on a terminal, plain lines on a
            file or pipe (``progress.TrainingProgress``).
    """

    def __init__(self, model, optimizer, *, strategy=None, distribution=None,
                 label_smoothing=0.0, loss_fn=None, accum_steps=1, jit_compile=True,
                 checkpoint_dir=None, checkpoint_every=0, keep_checkpoints=3, log_dir=None,
                 log_every=10, curves_path=None, progress=True):
        self.model = model
        self.optimizer = optimizer
        loss_fn = loss_fn or (lambda y, logits: classification_loss(y, logits, label_smoothing))
        self.steps = make_steps(model, optimizer, loss_fn, strategy=strategy,
                                distribution=distribution, accum_steps=accum_steps,
                                jit_compile=jit_compile)
        self.strategy = getattr(self.steps, "strategy", None)
        self.replicas = self.steps.replicas
        self.workers = self.steps.workers
        self.chief = self.steps.chief
        self.checkpoint_every = int(checkpoint_every or 0)
        self.log_every = int(log_every)
        self.progress = TrainingProgress(enabled=bool(progress) and self.chief)
        self.log = RunLog(log_dir if self.chief else None)
        self.curves_path = curves_path
        self.checkpoint = None
        if checkpoint_dir is not None:
            with self.steps.scope():
                self.checkpoint = TrainingCheckpoint(
                    checkpoint_dir, model, optimizer, keep=keep_checkpoints,
                    chief=self.chief, worker_id=self.steps.worker_index,
                )
        self.step = 0
        self.resumed_from = None

    # ----- loops --------------------------------------------------------------------
    def evaluate(self, data):
        """Single-view loss / top-1 / top-5 (fractions) over a dataset of (clip, label) batches."""
        loss, top1, top5, count = self.steps.eval_sums(data)
        if count == 0:
            raise InputError("the evaluation data is empty")
        return dict(loss=loss / count, top1=top1 / count, top5=top5 / count, count=int(count))

    def restore(self, resume="auto", plan=()):
        """Load a checkpoint ('auto': the latest, if any; or a path); returns the step.

        With several workers every worker must call it (it is collective): ``plan``
        (numbers every worker must agree on: steps per epoch, epochs...) is compared, the
        chief's checkpoint is restored and its weights are broadcast to all workers.
        """
        if self.workers > 1:
            return self._restore_together(resume, plan)
        path = self._checkpoint_to_restore(resume)
        if path is not None:
            self.step = self.checkpoint.restore(path)
            self.resumed_from = path
        return self.step

    def _checkpoint_to_restore(self, resume):
        """The checkpoint prefix that ``resume`` names here, or None."""
        if not resume:
            return None
        if self.checkpoint is None:
            if resume == "auto":
                return None
            raise InputError("resuming from a path needs a Trainer with a checkpoint_dir")
        return self.checkpoint.resolve(resume)

    def _restore_together(self, resume, plan):
        """Every worker reports its plan and the checkpoint step it finds; all then take
        the chief's step and weights, or all raise the same error."""
        error, path = None, None
        if self.chief or resume == "auto":  # an explicit path names the chief's file
            try:
                path = self._checkpoint_to_restore(resume)
            except (OSError, ValueError) as e:
                error = e
        mine = _UNREADABLE if error else (checkpoint_step(path) if path else _NO_CHECKPOINT)
        table = self.steps.gather_from_workers([mine, *plan])
        if error is not None:
            raise error
        chief_step = int(table[0, 0])
        for worker, row in enumerate(table):
            if row[0] == _UNREADABLE:
                raise WorkerDisagreementError(
                    f"worker {worker} could not read the checkpoint to resume from "
                    f"({resume}); its own log says why. No worker started.")
            if any(row[1:] != table[0, 1:]):
                raise WorkerDisagreementError(
                    f"worker {worker} plans {[int(v) for v in row[1:]]} (steps per epoch, "
                    f"epochs, replicas, variables) but the chief plans "
                    f"{[int(v) for v in table[0, 1:]]}: give every worker the same config")
            if row[0] not in (_NO_CHECKPOINT, chief_step):
                chief_has = f"step {chief_step}" if chief_step >= 0 else "none"
                raise WorkerDisagreementError(
                    f"worker {worker} finds a checkpoint at step {int(row[0])} in "
                    f"{self.checkpoint.directory}, the chief finds {chief_has}: the chief's "
                    f"checkpoints decide; remove the stale ones or give every worker the "
                    f"chief's output folder")
        if chief_step >= 0 and self.chief:
            self.checkpoint.restore(path)
        # one set of weights everywhere, also when a worker loaded its own --init file
        self.steps.broadcast_from_chief(self.model.variables + self.optimizer.variables)
        if chief_step >= 0:
            self.step = chief_step
            self.resumed_from = path if self.chief else f"the chief's checkpoint ckpt-{chief_step}"
        return self.step

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
                raise InputError("pass steps_per_epoch with data_per_worker=True")
            steps_per_epoch = int(data_for(0).cardinality())
            if steps_per_epoch <= 0:
                raise InputError("the training data has no known length: pass steps_per_epoch")
        plan = (steps_per_epoch, epochs, self.replicas,
                len(self.model.variables) + len(self.optimizer.variables))
        try:
            self.restore(resume, plan)
            if self.resumed_from is not None:
                print(f"resumed from {self.resumed_from} at step {self.step}", flush=True)
            history = self._fit_epochs(data_for, epochs, steps_per_epoch, val_data, eval_every,
                                       callback, data_per_worker)
        except _PEER_ERRORS as e:
            if self.workers == 1:
                raise
            latest = self.checkpoint.latest if self.checkpoint else None
            raise WorkerLostError(
                f"worker {self.steps.worker_index}: another worker stopped answering near step "
                f"{self.step + 1} ({str(e.message).strip().splitlines()[0][:160]}); restart every "
                f"worker with resume 'auto' to continue from "
                f"{latest or 'the last checkpoint'}") from None
        if self.curves_path is not None:
            self.log.curves(self.curves_path, f"{type(self.model).__name__}: training curves")
        return dict(step=self.step, history=history,
                    checkpoint=self.checkpoint.latest if self.checkpoint else None)

    def _fit_epochs(self, data_for, epochs, steps_per_epoch, val_data, eval_every, callback,
                    data_per_worker):
        """The epochs of ``fit`` from ``self.step`` on; returns their history rows."""
        history = []
        for epoch in range(self.step // steps_per_epoch, epochs):
            started = time.time()
            done = self.step - epoch * steps_per_epoch
            iterator = self.steps.distribute(data_for, epoch, done, data_per_worker)
            self.progress.start_epoch(epoch, epochs, steps_per_epoch, done)
            sums = {}
            for batch_index in range(done, steps_per_epoch):
                try:
                    logs = self.steps.train_step(iterator)
                except (StopIteration, tf.errors.OutOfRangeError):
                    raise InputError(
                        f"the training data of epoch {epoch} ended after {batch_index} batches; "
                        f"steps_per_epoch is {steps_per_epoch}"
                    ) from None
                except tf.errors.OpError as e:
                    _raise_input_error(e)
                if not math.isfinite(logs["loss"]):
                    self._stop_on_nonfinite(logs["loss"])
                self.step += 1
                sums = {k: sums.get(k, 0.0) + logs[k] for k in ("loss", "top1") if k in logs}
                self.progress.step(batch_index + 1, logs)
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
            self.progress.end_epoch(row)
            history.append(row)
        return history

    def _stop_on_nonfinite(self, loss):
        failed_step = self.step + 1
        latest = self.checkpoint.latest if self.checkpoint else None
        if latest is not None or self.workers > 1:  # collective: every worker rolls back
            self.restore("auto")
        self.log.flush()
        raise NonFiniteLossError(
            f"loss is {loss} at step {failed_step}; stopped. "
            + (f"Last good checkpoint: {latest} (model and optimizer rolled back to it)"
               if latest else "No checkpoint was written before it.")
        )

"""What fine-tuning and pretraining runs share: the step arithmetic, building the model
and optimizer under the strategy and precision, and the Trainer with its files."""

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import keras

from videomae_tf.training.distribute import (
    distribution_replicas,
    make_distribution,
    make_strategy,
    resolve_precision,
    worker_count,
    worker_index,
)
from videomae_tf.config import resolve
from videomae_tf.errors import InputError
from videomae_tf.files import write_text_atomic
from videomae_tf.training.engine import Trainer
from videomae_tf.training.optimizer import make_optimizer, scaled_lr


@dataclass
class RunPlan:
    """Where a run's replicas live, its precision and its batch/step counts, from its config.

    TensorFlow runs have a ``strategy``; JAX runs a ``distribution`` (None: one device).
    """

    out: Path
    strategy: object
    distribution: object
    precision: str
    replicas: int
    workers: int
    worker_index: int
    per_replica_batch: int
    total_batch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    lr: float

    def scope(self):
        """The scope variables are created in (strategy or distribution, else none)."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()

    @property
    def chief(self):
        """True on the worker that writes weights, logs and checkpoints."""
        return self.worker_index == 0

    def describe(self):
        """One line: backend, replicas and workers, the batch arithmetic, the steps."""
        where = f"{self.replicas} replica{'s' * (self.replicas != 1)}"
        if self.workers > 1:
            where += f" on {self.workers} workers (this is worker {self.worker_index}{', the chief' * self.chief})"
        return (f"{keras.backend.backend()}: {where}; global batch {self.total_batch} "
                f"({self.per_replica_batch} per replica); {self.steps_per_epoch} steps per epoch, "
                f"{self.total_steps} in all; precision {self.precision}")

    def summary(self, cfg, result):
        """The summary keys every run returns. Only the chief writes the final weights:
        on the other workers ``weights`` is None."""
        return dict(output_dir=str(self.out),
                    weights=str(self.out / "final.weights.h5") if self.chief else None,
                    chief=self.chief, step=result["step"], epochs=cfg["epochs"],
                    steps_per_epoch=self.steps_per_epoch, total_batch=self.total_batch,
                    lr=self.lr, precision=self.precision, replicas=self.replicas,
                    workers=self.workers, checkpoint=result["checkpoint"] if self.chief else None,
                    history=result["history"])


def resolve_run_config(config, command):
    """The checked config of ``command`` ("finetune" | "pretrain"): its defaults with
    ``config`` on top (``videomae_tf.config.resolve``); output_dir is required."""
    cfg = resolve(config, command)
    if not cfg["output_dir"]:
        raise InputError(f"{command} needs output_dir (checkpoints, logs and weights go there)")
    return cfg


def data_lists(cfg, command):
    """(train records, val records or None) of ``cfg["data"]``, rendering the synthetic
    dataset first when ``data.synthetic`` asks for it and no training list was given
    (under ``data.root``, which must then be new, empty or a synthetic dataset, or else
    ``output_dir/synthetic``): a recipe's demo data never lands on the user's data."""
    from videomae_tf.data import make_synthetic_dataset, read_annotations
    from videomae_tf.data.packing import is_pack

    data = cfg["data"]
    train, val, root = data["train"], data.get("val"), data["root"]
    if data["synthetic"] is not None and not train:
        options = data["synthetic"] if isinstance(data["synthetic"], dict) else {}
        root = root or os.path.join(cfg["output_dir"], "synthetic")
        paths = make_synthetic_dataset(root, **options)
        train, val, root = train or paths["train"], val or paths["val"], paths["root"]
    if not train:
        raise InputError(f"{command} needs data.train (an annotation list) or data.synthetic")
    if is_pack(train) or is_pack(val):
        return _pack_records(train, val, command)
    train_records = read_annotations(train, root=root)
    val_records = read_annotations(val, root=root) if val else None
    for name, records in ((train, train_records), (val, val_records)):
        _check_listed_files(name, records, root)
    return train_records, val_records


def _pack_records(train, val, command):
    """The videos of packs (``videomae-tf pack``): fine-tuning reads both lists packed."""
    from videomae_tf.data.packing import is_pack, packed_index

    if command != "finetune" or not is_pack(train) or (val and not is_pack(val)):
        raise InputError(f"{command}: packed data (index.json) is read by finetune, for "
                         "data.train and data.val both (or a pack and no data.val)")
    return packed_index(train)["records"], packed_index(val)["records"] if val else None


def _check_listed_files(list_path, records, root):
    """Stop when no video of a list exists (a wrong data root, say): training would find
    nothing to read; warn when some are missing (they are skipped)."""
    import sys

    from videomae_tf.data.annotations import check_files

    if not records:
        if records is not None:
            raise InputError(f"{list_path} lists no videos")
        return
    missing = check_files(records, raise_error=False)
    where = f" under data root {root}" if root else ""
    if len(missing) == len(records):
        raise FileNotFoundError(f"none of the {len(records)} videos listed in {list_path} exist"
                                f"{where} (first: {missing[0]}); check data.root / --data-root")
    if missing:
        print(f"warning: {len(missing)} of {len(records)} videos listed in {list_path} do not "
              f"exist and will be skipped (first: {missing[0]})", file=sys.stderr)


def _placement(cfg):
    """(strategy, distribution, replicas, workers, worker index) of the current backend."""
    if keras.backend.backend() == "jax":
        import jax
        import tensorflow as tf

        try:  # tf.data runs on the host; leave the accelerators to JAX
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:
            pass
        distribution = make_distribution(cfg["strategy"], cfg["model_parallel"])
        return (None, distribution, distribution_replicas(distribution), jax.process_count(),
                jax.process_index())
    if cfg["model_parallel"] != 1:
        raise InputError("model_parallel needs the JAX backend (KERAS_BACKEND=jax)")
    strategy = make_strategy(cfg["strategy"], cfg["collective_timeout"])
    return (strategy, None, strategy.num_replicas_in_sync, worker_count(strategy),
            worker_index(strategy))


#: How a config's rates relate to the batch: "linear" (the official scripts: the rates are
#: BASE rates for a total batch of 256) or "none" (as written, e.g. mmaction2 configs).
LR_SCALING = ("linear", "none")


def rate(cfg, key, total_batch):
    """The learning rate ``cfg[key]`` for this total batch, as ``lr_scaling`` says."""
    scaling = cfg.get("lr_scaling", "linear")
    if scaling not in LR_SCALING:
        raise InputError(f"lr_scaling must be one of {LR_SCALING}, got {scaling!r}")
    return scaled_lr(cfg[key], total_batch) if scaling == "linear" else cfg[key]


def plan_run(cfg, num_examples, what):
    """The run plan for ``num_examples`` examples an epoch; on the chief, a folder being
    resumed must hold the same run (``check_resumed_config``).

    ``what`` names the examples in the error raised when they make no batch.
    """
    out = Path(cfg["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    strategy, distribution, replicas, workers, index = _placement(cfg)
    per_replica_batch = cfg["batch_size"] * cfg["update_freq"]
    total_batch = per_replica_batch * replicas
    steps_per_epoch = cfg["steps_per_epoch"] or num_examples // total_batch
    if steps_per_epoch < 1:
        raise InputError(f"{what} make no batch of {total_batch}")
    warmup = cfg["warmup_steps"] if cfg["warmup_steps"] > 0 else cfg["warmup_epochs"] * steps_per_epoch
    total_steps = cfg["epochs"] * steps_per_epoch
    if warmup >= total_steps:
        key = "warmup_steps" if cfg["warmup_steps"] > 0 else "warmup_epochs"
        raise InputError(f"{key}={cfg[key]} warms up for {warmup} of the run's {total_steps} "
                         f"steps ({cfg['epochs']} epochs of {steps_per_epoch}): nothing is left "
                         "for the schedule; lower it or train longer")
    if index == 0:
        check_resumed_config(cfg, out)
    plan = RunPlan(out=out, strategy=strategy, distribution=distribution,
                   precision=resolve_precision(cfg["precision"], strategy), replicas=replicas,
                   workers=workers, worker_index=index, per_replica_batch=per_replica_batch,
                   total_batch=total_batch, steps_per_epoch=steps_per_epoch,
                   total_steps=total_steps, warmup_steps=warmup,
                   lr=rate(cfg, "lr", total_batch))
    if cfg["progress"] or workers > 1:
        print(plan.describe(), flush=True)
    return plan


#: Config keys a resumed run may change: how it runs, not what it trains.
RESUMABLE_CHANGES = frozenset((
    "resume", "progress", "epochs", "output_dir", "log_every", "checkpoint_every",
    "keep_checkpoints", "collective_timeout", "jit_compile", "visualize_every", "eval_every",
    "val_batch_size", "data.num_parallel_calls", "data.backend", "data.root",
    "data.service"))


def _flat(config, prefix=""):
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and key in ("data", "model"):
            out.update(_flat(value, f"{key}."))
        else:
            out[prefix + key] = value
    return out


def check_resumed_config(cfg, out):
    """Resuming ('auto') a run folder that holds checkpoints continues THAT run: a key
    (other than ``RESUMABLE_CHANGES``) set differently from its ``config.json`` is an
    error naming it, never trained silently with the old state or written over."""
    import tensorflow as tf

    previous = out / "config.json"
    if cfg["resume"] != "auto" or not previous.is_file():
        return
    if tf.train.latest_checkpoint(str(out / "checkpoints")) is None:
        return
    try:
        old = _flat(json.loads(previous.read_text()))
    except (OSError, ValueError) as e:
        raise InputError(f"{previous} cannot be read ({e}); it describes the run whose "
                         f"checkpoints are in {out}") from None
    new = _flat(json.loads(json.dumps(cfg, default=str)))
    changed = sorted(k for k in set(old) & set(new)
                     if k not in RESUMABLE_CHANGES and old[k] != new[k])
    if changed:
        key = changed[0]
        raise InputError(
            f"{out} holds a run with {key}={json.dumps(old[key])}, this one asks for "
            f"{key}={json.dumps(new[key])}" + (f" (and {len(changed) - 1} more keys)" if
                                               len(changed) > 1 else "") +
            ": resuming continues the saved run; use a new output folder, or resume=false "
            "to start again there")


def record_config(cfg, plan):
    """Write the run's ``config.json`` (chief only, via a temporary name), once the run can
    start: a run that fails while being set up leaves the previous record alone."""
    if not plan.chief:
        return
    write_text_atomic(plan.out / "config.json",
                      json.dumps(cfg, indent=2, sort_keys=True, default=str))


def build_model_and_optimizer(cfg, plan, build_model, layer_decay):
    """``build_model()`` and its AdamW under the plan's strategy scope and dtype policy."""
    keras.utils.set_random_seed(cfg["seed"])
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(plan.precision)
    try:
        with plan.scope():
            model = build_model()
            optimizer = make_optimizer(
                model, lr=plan.lr, total_steps=plan.total_steps, warmup_steps=plan.warmup_steps,
                min_lr=rate(cfg, "min_lr", plan.total_batch),
                warmup_lr=rate(cfg, "warmup_lr", plan.total_batch),
                weight_decay=cfg["weight_decay"], betas=tuple(cfg["opt_betas"]),
                eps=cfg["opt_eps"], layer_decay=layer_decay, clip_grad=cfg["clip_grad"],
                backbone_lr_scale=cfg.get("backbone_lr_scale", 1.0),
                loss_scale=plan.precision == "mixed_float16")
    finally:
        keras.config.set_dtype_policy(previous_policy)
    return model, optimizer


def make_trainer(cfg, plan, model, optimizer, **kwargs):
    """The Trainer of a run: checkpoints and logs under the run folder."""
    return Trainer(
        model, optimizer, strategy=plan.strategy, distribution=plan.distribution, accum_steps=cfg["update_freq"],
        jit_compile=cfg["jit_compile"], checkpoint_dir=plan.out / "checkpoints",
        checkpoint_every=cfg["checkpoint_every"], keep_checkpoints=cfg["keep_checkpoints"],
        log_dir=plan.out / "logs", log_every=cfg["log_every"],
        curves_path=plan.out / "curves.png", progress=cfg["progress"],
        **kwargs)

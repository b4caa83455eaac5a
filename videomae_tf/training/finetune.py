"""``finetune(config)``: build model, data and optimizer from a config, train, save.

Config keys (defaults: ``recipes.FINETUNE_DEFAULTS``; whole recipes: ``get_recipe``):

model          ``{"arch": "vit_b" | ... | None, **VideoMAEClassifier options}``
               (e.g. embed_dim, depth, num_heads, patch_size, use_mean_pooling)
num_classes, num_frames, input_size (crop = model img_size), drop_path, fc_drop_rate
init           pretrained model file whose encoder starts the classifier (or None)
data           train / val (annotation lists), root (folder the list paths start from),
               synthetic (make_synthetic_dataset kwargs: render the demo dataset into
               root, or <output_dir>/synthetic), sampler, sampling_rate, short_side
               (validation resize), num_sample (views per video), flip, rand_aug,
               erase_prob, scale, decode_short_side, backend, num_parallel_calls
mixup, cutmix, mixup_prob, mixup_switch_prob, smoothing    (official meanings)
epochs, batch_size (per replica, per micro-batch), update_freq (micro-batches per step),
lr, min_lr, warmup_lr (BASE rates, x total batch / 256), warmup_epochs, warmup_steps,
layer_decay (None: off), weight_decay, opt_betas, opt_eps, clip_grad
val_batch_size, eval_every (epochs), test_num_segment, test_num_crop (for evaluation)
output_dir     run folder: config.json, checkpoints/, logs/, final.weights.h5
resume         "auto" (latest checkpoint in output_dir), a checkpoint path, or False
checkpoint_every (steps; epoch ends always save), keep_checkpoints, log_every (steps)
seed, strategy ("auto" | "tpu" | "multi_worker" | "mirrored" | "default"),
precision ("auto" | "float32" | "mixed_bfloat16" | "mixed_float16"), jit_compile,
progress, steps_per_epoch (default: training views // total batch)
"""

import json
import os
from pathlib import Path

import keras

from videomae_tf.models import VideoMAEClassifier, finetune_model, save_weights
from videomae_tf.training.distribute import make_strategy, resolve_precision
from videomae_tf.training.engine import Trainer
from videomae_tf.training.optimizer import make_optimizer, scaled_lr
from videomae_tf.training.recipes import FINETUNE_DEFAULTS, merge


def resolve_config(config):
    """Defaults + ``config``; unknown keys are an error (they are usually typos)."""
    unknown = sorted(set(config) - set(FINETUNE_DEFAULTS))
    unknown += sorted(f"data.{k}" for k in set(config.get("data") or {})
                      - set(FINETUNE_DEFAULTS["data"]))
    if unknown:
        raise KeyError(f"unknown finetune config keys {unknown}; known: {sorted(FINETUNE_DEFAULTS)}"
                       f" and data.{{{', '.join(sorted(FINETUNE_DEFAULTS['data']))}}}")
    cfg = merge(FINETUNE_DEFAULTS, config)
    if not cfg["output_dir"]:
        raise ValueError("finetune needs output_dir (checkpoints, logs and weights go there)")
    return cfg


def build_classifier(cfg):
    """The classifier the config describes (build it under the strategy scope)."""
    options = dict(cfg["model"] or {})
    arch = options.pop("arch", None)
    options.update(num_classes=cfg["num_classes"], num_frames=cfg["num_frames"],
                   img_size=cfg["input_size"], drop_path_rate=cfg["drop_path"],
                   head_drop_rate=cfg["fc_drop_rate"])
    return finetune_model(arch, **options) if arch else VideoMAEClassifier(**options)


def _data_lists(cfg):
    """(train records, val records or None), rendering the synthetic dataset if asked."""
    from videomae_tf.data import make_synthetic_dataset, read_annotations

    data = cfg["data"]
    train, val, root = data["train"], data["val"], data["root"]
    if data["synthetic"] is not None:
        options = data["synthetic"] if isinstance(data["synthetic"], dict) else {}
        root = root or os.path.join(cfg["output_dir"], "synthetic")
        paths = make_synthetic_dataset(root, **options)
        train, val, root = train or paths["train"], val or paths["val"], paths["root"]
    if not train:
        raise ValueError("finetune needs data.train (an annotation list) or data.synthetic")
    train_records = read_annotations(train, root=root)
    val_records = read_annotations(val, root=root) if val else None
    return train_records, val_records


def _datasets(cfg, train_records, val_records, per_replica_batch, global_batch):
    """``fn(epoch, input_context)`` for training, and the validation dataset."""
    from videomae_tf.data.pipeline import finetune_dataset, validation_dataset

    data = cfg["data"]
    common = dict(num_frames=cfg["num_frames"], sampling_rate=data["sampling_rate"],
                  crop_size=cfg["input_size"], backend=data["backend"],
                  decode_short_side=data["decode_short_side"],
                  num_parallel_calls=data["num_parallel_calls"])
    mixup = None
    if cfg["mixup"] > 0 or cfg["cutmix"] > 0:
        mixup = dict(num_classes=cfg["num_classes"], mixup_alpha=cfg["mixup"],
                     cutmix_alpha=cfg["cutmix"], prob=cfg["mixup_prob"],
                     switch_prob=cfg["mixup_switch_prob"], label_smoothing=cfg["smoothing"])

    def train_data(epoch, context):
        # a fresh, epoch-seeded pipeline: the same batches whenever epoch e is (re)started
        return finetune_dataset(
            train_records, num_sample=data["num_sample"], sampler=data["sampler"],
            rand_aug=data["rand_aug"], flip=data["flip"], erase_prob=data["erase_prob"],
            scale=tuple(data["scale"]), batch_size=context.get_per_replica_batch_size(global_batch),
            mixup=mixup, shuffle=True, repeat=True, seed=cfg["seed"] * 100_003 + epoch,
            input_context=context, **common)

    val = None
    if val_records:
        val = validation_dataset(
            val_records, sampler="dense_center", short_side=data["short_side"],
            batch_size=cfg["val_batch_size"] or max(global_batch, 1), **common)
    return train_data, val


def finetune(config):
    """Fine-tune a classifier as ``config`` says (see the module doc); returns a summary.

    The summary: output_dir, weights (final .weights.h5), step, epochs, steps_per_epoch,
    total_batch, lr (scaled), the last epoch's train/val metrics, history (one dict per
    epoch run in this call) and the latest checkpoint.
    """
    cfg = resolve_config(config)
    out = Path(cfg["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    strategy = make_strategy(cfg["strategy"])
    precision = resolve_precision(cfg["precision"], strategy)
    replicas = strategy.num_replicas_in_sync
    per_replica_batch = cfg["batch_size"] * cfg["update_freq"]
    total_batch = per_replica_batch * replicas
    train_records, val_records = _data_lists(cfg)
    steps_per_epoch = cfg["steps_per_epoch"] or len(train_records) * cfg["data"]["num_sample"] // total_batch
    if steps_per_epoch < 1:
        raise ValueError(f"{len(train_records)} training videos make no batch of {total_batch}")
    total_steps = cfg["epochs"] * steps_per_epoch
    warmup = cfg["warmup_steps"] if cfg["warmup_steps"] > 0 else cfg["warmup_epochs"] * steps_per_epoch
    lr = scaled_lr(cfg["lr"], total_batch)
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))

    keras.utils.set_random_seed(cfg["seed"])
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        with strategy.scope():
            model = build_classifier(cfg)
            if cfg["init"]:
                model.load_encoder_weights(cfg["init"])
            optimizer = make_optimizer(
                model, lr=lr, total_steps=total_steps, warmup_steps=warmup,
                min_lr=scaled_lr(cfg["min_lr"], total_batch),
                warmup_lr=scaled_lr(cfg["warmup_lr"], total_batch),
                weight_decay=cfg["weight_decay"], betas=tuple(cfg["opt_betas"]), eps=cfg["opt_eps"],
                layer_decay=cfg["layer_decay"], clip_grad=cfg["clip_grad"],
                loss_scale=precision == "mixed_float16")
    finally:
        keras.config.set_dtype_policy(previous_policy)
    mixup_on = cfg["mixup"] > 0 or cfg["cutmix"] > 0
    trainer = Trainer(
        model, optimizer, strategy=strategy,
        label_smoothing=0.0 if mixup_on else cfg["smoothing"],  # mixup targets carry it
        accum_steps=cfg["update_freq"], jit_compile=cfg["jit_compile"],
        checkpoint_dir=out / "checkpoints", checkpoint_every=cfg["checkpoint_every"],
        keep_checkpoints=cfg["keep_checkpoints"], log_dir=out / "logs",
        log_every=cfg["log_every"], progress=cfg["progress"])
    train_data, val_data = _datasets(cfg, train_records, val_records, per_replica_batch, total_batch)
    result = trainer.fit(train_data, epochs=cfg["epochs"], steps_per_epoch=steps_per_epoch,
                         val_data=val_data, resume=cfg["resume"], eval_every=cfg["eval_every"],
                         data_per_worker=True)
    weights = out / "final.weights.h5"
    if trainer.chief:
        save_weights(model, weights, step=result["step"], num_classes=cfg["num_classes"])
    last = result["history"][-1] if result["history"] else {}
    return dict(output_dir=str(out), weights=str(weights), step=result["step"],
                epochs=cfg["epochs"], steps_per_epoch=steps_per_epoch, total_batch=total_batch,
                lr=lr, precision=precision, replicas=replicas, checkpoint=result["checkpoint"],
                history=result["history"],
                **{k: v for k, v in last.items() if k.startswith(("train_", "val_"))})

"""``pretrain(config)``: masked-autoencoder pretraining, VideoMAE V1 (tube masking) and
VideoMAE V2 (tube + running-cell decoder masking), on the fine-tuning engine.

The same ``Trainer`` as fine-tuning runs it (one XLA-compiled step around
``strategy.run``, gradient accumulation, crash-safe resumable checkpoints, logs); only
the batch and the loss differ. The input pipeline (``data.pipeline.pretrain_dataset``)
draws a random window, a multi-scale crop and the masks of every view from a per-element
seed and yields ``{"pixel_values", "visible_index", "reconstruct_index"}``: the encoder
sees the visible tokens only, and with the V2 decoder mask the decoder runs on the
visible + reconstructed tokens only. Shapes are static, so the step compiles with XLA.

Config keys (defaults: ``config.PRETRAIN_DEFAULTS``; whole recipes:
``config.get_config("pretrain", name)``):

model          ``{"arch": "vit_b" | ... | None, "version": "v1" | "v2", **VideoMAEPretrainer
               options}`` (decoder_depth, decoder_embed_dim, embed_dim, patch_size...)
num_frames, input_size, drop_path, normalize_target (official True)
mask_type ("tube" | "random"), mask_ratio (official 0.9), decoder_mask_type (None for V1,
               "running_cell" for V2), decoder_mask_ratio (V2 0.5)
data           train (annotation list; labels ignored), val (optional list: its first
               video is the clip of the reconstruction pictures; default: the first
               training video), root, synthetic (render the demo
               dataset: make_synthetic_dataset kwargs), sampler ("pretrain"),
               sampling_rate (4; SSV2 2), num_sample (views per decoded video; V2 4),
               decode_short_side, backend, num_parallel_calls
epochs, batch_size (views per replica per micro-batch), update_freq (micro-batches per
step), lr, min_lr, warmup_lr (BASE rates, x total batch / 256), warmup_epochs,
warmup_steps, weight_decay, opt_betas (0.9, 0.95), opt_eps, clip_grad
output_dir     run folder: config.json, checkpoints/, logs/, final.weights.h5 (+ .json)
resume         "auto" (latest checkpoint in output_dir), a checkpoint path, or False
visualize_every (epochs between TensorBoard pictures of a fixed clip's reconstruction;
               0: none), checkpoint_every, keep_checkpoints, log_every, seed, strategy,
model_parallel,
collective_timeout, precision, jit_compile, progress, steps_per_epoch (default: training
views // total batch); the engine keys are explained in ``finetune``'s doc

Fine-tune from the result with ``finetune({... "init": "<output_dir>/final.weights.h5"})``:
the encoder moves over by name (any frame count or resolution; the position tables are
rebuilt).
"""

from keras import ops

from videomae_tf.config import run_model_options
from videomae_tf.errors import InputError
from videomae_tf.models import VideoMAEPretrainer, pretrain_model, save_weights
from videomae_tf.models.encoder import gather_tokens
from videomae_tf.models.pretrainer import encoder_masked_weight
from videomae_tf.training.losses import at_least_float32
from videomae_tf.training.run import (
    build_model_and_optimizer,
    data_lists,
    make_trainer,
    plan_run,
    record_config,
    resolve_run_config,
)

def resolve_pretrain_config(config):
    """Defaults + ``config``; unknown keys are an error (they are usually typos)."""
    cfg = resolve_run_config(config, "pretrain")
    if cfg["decoder_mask_type"] not in (None, "running_cell", "tube", "random"):
        raise InputError(f"decoder_mask_type must be None (V1), 'running_cell' (V2), 'tube' "
                         f"or 'random', got {cfg['decoder_mask_type']!r}")
    return cfg


def build_pretrainer(cfg):
    """The masked autoencoder the config describes (build it under the strategy scope)."""
    options = dict(cfg["model"] or {})
    arch = options.pop("arch", None)
    version = options.pop("version", "v1")
    options.update(run_model_options(cfg, "pretrain"))
    return pretrain_model(arch, version, **options) if arch else VideoMAEPretrainer(**options)


def pretraining_loss_fn(model):
    """The engine's ``loss_fn`` for pretraining: ``(batch, predictions) -> (B,)`` losses
    whose mean is the official loss of the batch (``model.loss_from_predictions``).

    V1: the MSE over all reconstructed (= masked) tokens. V2: the per-token MSE averaged
    over the tokens that are decoded AND encoder-masked, counted over the whole batch
    (a ratio of sums, as the official code); example i contributes
    B * (its weighted token sum) / (the batch's weight sum), so the batch mean is exact.
    The engine divides by the global batch: with several replicas (or micro-batches) the
    result is the mean of their losses, as DDP averages the official per-GPU losses.
    """
    num_tokens = model.num_patches

    def loss_fn(batch, predictions):
        predictions = at_least_float32(predictions)
        dtype = predictions.dtype
        target = gather_tokens(model.target(batch["pixel_values"]), batch["reconstruct_index"])
        weight = ops.cast(encoder_masked_weight(batch["visible_index"], batch["reconstruct_index"],
                                                num_tokens), dtype)
        per_token = ops.mean(ops.square(predictions - ops.cast(target, dtype)), axis=-1)
        per_example = ops.sum(per_token * weight, axis=1)
        size = ops.cast(ops.shape(per_example)[0], dtype)
        return per_example * size / ops.maximum(ops.sum(weight), 1.0)

    return loss_fn


def pretrain_data(cfg, records, global_batch, model):
    """``fn(epoch, input_context)``: that epoch's (seeded) pipeline of masked views for ``model``."""
    from videomae_tf.data.pipeline import pretrain_dataset

    data = cfg["data"]
    patch_size = model.encoder.encoder_config["patch_size"]
    tubelet_size = model.encoder.encoder_config["tubelet_size"]

    def train_data(epoch, context=None):
        batch = context.get_per_replica_batch_size(global_batch) if context else global_batch
        return pretrain_dataset(
            records, num_frames=cfg["num_frames"], sampling_rate=data["sampling_rate"],
            crop_size=cfg["input_size"], patch_size=patch_size, tubelet_size=tubelet_size,
            mask_type=cfg["mask_type"], mask_ratio=cfg["mask_ratio"],
            decoder_mask_type=cfg["decoder_mask_type"],
            decoder_mask_ratio=cfg["decoder_mask_ratio"], num_sample=data["num_sample"],
            sampler=data["sampler"], batch_size=batch, shuffle=True, repeat=True,
            seed=cfg["seed"] * 100_003 + epoch, input_context=context,
            backend=data["backend"], decode_short_side=data["decode_short_side"],
            num_parallel_calls=data["num_parallel_calls"])

    return train_data


def reconstruction_logger(cfg, model, record, trainer, steps_per_epoch):
    """A step callback that logs the reconstruction picture of ``record``'s clip (a fixed
    mask) to TensorBoard every ``visualize_every`` epochs, on the chief; None when off or
    when the clip cannot be read (said on stderr)."""
    every = cfg["visualize_every"]
    if not every or not trainer.chief or record is None:
        return None
    import sys
    from pathlib import Path

    import numpy as np

    from videomae_tf import masking
    from videomae_tf.visualize import read_video_clip, reconstruct_clip, reconstruction_figures

    try:
        clip, indices = read_video_clip(record.path, cfg["num_frames"], cfg["input_size"],
                                        sampling_rate=cfg["data"]["sampling_rate"],
                                        backend=cfg["data"]["backend"])
    except (OSError, ValueError, RuntimeError) as e:
        print(f"pretrain: no reconstruction pictures ({record.path}: {e})", file=sys.stderr)
        return None
    mask = masking.make_mask(cfg["mask_type"], model.encoder.grid, cfg["mask_ratio"],
                             np.random.default_rng(0))
    name = Path(record.path).stem

    def log_picture(step, logs):
        if step % (steps_per_epoch * every):
            return
        videos, loss = reconstruct_clip(model, clip, mask)
        picture, _ = reconstruction_figures(
            videos, title=f"{name}: reconstruction at step {step}",
            subtitle=f"{cfg['mask_type']} mask, ratio {cfg['mask_ratio']:g}   loss {loss:.4f}",
            frame_indices=indices)
        trainer.log.image(step, "reconstruction", picture)

    return log_picture


def pretrain(config, callback=None):
    """Pretrain a masked autoencoder as ``config`` says (see the module doc).

    Returns a summary: output_dir, weights (final .weights.h5, with its JSON sidecar),
    step, epochs, steps_per_epoch, total_batch, lr (scaled), precision, replicas,
    checkpoint, history (one row per epoch run in this call: train_loss, lr, seconds),
    step_losses (the loss of every step run in this call) and train_loss (last epoch).
    Calling it again with the same output_dir resumes from the latest checkpoint.
    ``callback(step, logs)`` (optional) is called after every optimizer step.
    """
    cfg = resolve_pretrain_config(config)
    records, val_records = data_lists(cfg, "pretrain")
    plan = plan_run(cfg, len(records) * cfg["data"]["num_sample"],
                    f"{len(records)} videos x {cfg['data']['num_sample']} views")
    model, optimizer = build_model_and_optimizer(cfg, plan, lambda: build_pretrainer(cfg), None)
    trainer = make_trainer(cfg, plan, model, optimizer, loss_fn=pretraining_loss_fn(model))
    record_config(cfg, plan)
    step_losses = []
    picture = reconstruction_logger(cfg, model, (val_records or records or [None])[0], trainer,
                                    plan.steps_per_epoch)

    def after_step(step, logs):
        step_losses.append(logs["loss"])
        if picture is not None:
            picture(step, logs)
        if callback is not None:
            callback(step, logs)

    result = trainer.fit(pretrain_data(cfg, records, plan.total_batch, model), epochs=cfg["epochs"],
                         steps_per_epoch=plan.steps_per_epoch, resume=cfg["resume"],
                         data_per_worker=True, callback=after_step)
    if trainer.chief:
        save_weights(model, plan.out / "final.weights.h5", step=result["step"], epochs=cfg["epochs"],
                     mask_type=cfg["mask_type"], mask_ratio=cfg["mask_ratio"],
                     decoder_mask_type=cfg["decoder_mask_type"],
                     decoder_mask_ratio=cfg["decoder_mask_ratio"])
    last = result["history"][-1] if result["history"] else {}
    return dict(plan.summary(cfg, result), step_losses=step_losses,
                **{k: v for k, v in last.items() if k.startswith("train_")})

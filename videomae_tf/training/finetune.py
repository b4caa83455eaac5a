"""``finetune(config)``: build model, data and optimizer from a config, train, save.

Config keys (defaults: ``config.FINETUNE_DEFAULTS``; whole recipes: ``config.get_config``):

model          ``{"arch": "vit_b" | ... | None, **VideoMAEClassifier options}``
               (e.g. embed_dim, depth, num_heads, patch_size, use_mean_pooling)
num_classes, num_frames, input_size (crop = model img_size), drop_path, fc_drop_rate
init           the model whose encoder starts the classifier: a file, pretrained folder,
               hf://org/repo or zoo name (fetched before training), or None
head           None (a classifier), or the MA-52 heads: {type: i3d | tsn | timesformer,
               dropout, frame_assist, coarse_assist, arcface: None | target | all,
               arcface_scale, arcface_margin} (a ``MicroActionModel``)
loss           None (the official criterion), or an MA-52 loss: ce, ce_f1, double,
               fine_a_coarse_double (``losses.micro_action_loss``)
data           train / val (annotation lists), root (folder the list paths start from),
               synthetic (make_synthetic_dataset kwargs: render the demo dataset into
               root, or <output_dir>/synthetic), sampler, val_sampler, sampling_rate,
               short_side (validation resize), num_sample (views per video), flip,
               rand_aug, erase_prob, erase_max_area, scale, ratio (random resized crop),
               color_jitter, decode_short_side, backend, num_parallel_calls,
               service (grpc://HOST:PORT: a packed data.train is read, decoded and
               augmented by that tf.data service's workers; ``data.service``)
mixup, cutmix, mixup_prob, mixup_switch_prob, smoothing    (official meanings)
epochs, batch_size (per replica, per micro-batch), update_freq (micro-batches per step),
lr, min_lr, warmup_lr (BASE rates, x total batch / 256), warmup_epochs, warmup_steps,
layer_decay (None: off), backbone_lr_scale (a head model's backbone), lr_scaling
("linear": x total batch / 256, "none": as written), weight_decay, opt_betas, opt_eps,
clip_grad
val_batch_size, eval_every (epochs), test_num_segment, test_num_crop (for evaluation)
output_dir     run folder: config.json, checkpoints/, logs/, final.weights.h5
resume         "auto" (latest checkpoint in output_dir), a checkpoint path, or False
checkpoint_every (steps; epoch ends always save), keep_checkpoints, log_every (steps)
seed, strategy ("auto" | "tpu" | "multi_worker" | "mirrored" | "default"; see
               docs/distributed.md), model_parallel (JAX: devices on the model mesh axis),
collective_timeout (seconds a multi-worker collective waits for its peers),
precision ("auto" | "float32" | "mixed_bfloat16" | "mixed_float16"), jit_compile,
progress, steps_per_epoch (default: training views // total batch)
"""

import json

from videomae_tf.config import run_model_options
from videomae_tf.errors import InputError
from videomae_tf.models import (ARCHITECTURES, MicroActionModel, VideoMAEClassifier,
                                finetune_model, save_weights)
from videomae_tf.models.encoder import ENCODER_DEFAULTS
from videomae_tf.training.losses import micro_action_loss
from videomae_tf.training.run import (
    build_model_and_optimizer,
    data_lists,
    make_trainer,
    plan_run,
    record_config,
    resolve_run_config,
)


def resolve_config(config):
    """Defaults + ``config``; unknown keys are an error (they are usually typos)."""
    return resolve_run_config(config, "finetune")


def _check_labels(cfg, records, key):
    """Every label must be a class of the model: 0 <= label < num_classes (a larger one
    would train silently wrong: clamped under XLA)."""
    bad = next((r for r in records if r.label is None or not 0 <= r.label < cfg["num_classes"]),
               None)
    if bad is not None:
        raise InputError(f"{key}: {bad.path} has the label {bad.label}, but num_classes is "
                         f"{cfg['num_classes']}: labels must be 0..{cfg['num_classes'] - 1} "
                         f"(fix the list or set num_classes)")


def build_classifier(cfg):
    """The model the config describes (build it under the strategy scope): a classifier,
    or with ``head`` set a ``MicroActionModel`` (the MA-52 heads on a token-map backbone)."""
    options = dict(cfg["model"] or {})
    arch = options.pop("arch", None)
    run_options = run_model_options(cfg, "finetune")
    if cfg["head"]:
        head = dict(cfg["head"])
        backbone = dict(ARCHITECTURES[arch]["encoder"] if arch else {}, **options)
        backbone.update({option: value for option, value in run_options.items()
                         if option in ENCODER_DEFAULTS})  # the heads take num_classes
        return MicroActionModel(backbone=backbone, num_classes=cfg["num_classes"],
                                head=head.pop("type", "tsn"), **head)
    options.update(run_options)
    return finetune_model(arch, **options) if arch else VideoMAEClassifier(**options)


def loss_function(cfg):
    """The training loss: None (the engine's official criterion) or the MA-52 loss named
    by ``loss`` (label smoothing off under mixup: the mixed targets carry it)."""
    if not cfg["loss"]:
        return None
    mixup_on = cfg["mixup"] > 0 or cfg["cutmix"] > 0
    head = cfg["head"] or {}
    return micro_action_loss(cfg["loss"], num_classes=cfg["num_classes"],
                             smoothing=0.0 if mixup_on else cfg["smoothing"],
                             arcface=head.get("arcface"),
                             arcface_scale=head.get("arcface_scale", 30.0),
                             arcface_margin=head.get("arcface_margin", 0.5))


def _datasets(cfg, train_records, val_records, per_replica_batch, global_batch):
    """``fn(epoch, input_context)`` for training, and the validation dataset."""
    from videomae_tf.data.packing import is_pack
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

    if is_pack(data["train"]):
        return _packed_datasets(cfg, mixup, global_batch)

    def train_data(epoch, context):
        # a fresh, epoch-seeded pipeline: the same batches whenever epoch e is (re)started
        return finetune_dataset(
            train_records, num_sample=data["num_sample"], sampler=data["sampler"],
            rand_aug=data["rand_aug"], flip=data["flip"], erase_prob=data["erase_prob"],
            erase_max_area=data["erase_max_area"], scale=tuple(data["scale"]),
            ratio=tuple(data["ratio"]), color_jitter=data["color_jitter"],
            batch_size=context.get_per_replica_batch_size(global_batch),
            mixup=mixup, shuffle=True, repeat=True, seed=cfg["seed"] * 100_003 + epoch,
            input_context=context, **common)

    val = None
    if val_records:
        val = validation_dataset(
            val_records, sampler=data["val_sampler"], short_side=data["short_side"],
            batch_size=cfg["val_batch_size"] or max(global_batch, 1), **common)
    return train_data, val


#: Data settings packed data cannot follow yet (they need Python per clip): key -> the
#: value that switches them off.
_NOT_PACKED = {"rand_aug": None, "erase_prob": 0.0, "color_jitter": False, "sampler": "dense",
               "val_sampler": "dense_center", "decode_short_side": None}


def _check_service(cfg):
    """``data.service`` needs packed training data and a dispatcher that answers: one line
    before anything is built or written."""
    service = cfg["data"]["service"]
    if service is None:
        return
    from videomae_tf.data.packing import is_pack
    from videomae_tf.data.service import check_reachable

    if not is_pack(cfg["data"]["train"]):
        raise InputError(f"data.service={service!r} sends the input pipeline to tf.data "
                         "service workers, which run TensorFlow ops only: data.train must be "
                         "a pack (`videomae-tf pack`), not an annotation list")
    check_reachable(service)


def _packed_datasets(cfg, mixup, global_batch):
    """The training function and validation dataset of packed data (``data.packing``)."""
    from videomae_tf.data.packing import packed_finetune_dataset, packed_validation_dataset

    data = cfg["data"]
    for key, off in _NOT_PACKED.items():
        if data[key] != off:
            raise InputError(f"data.{key}={data[key]!r} is not available on packed data yet "
                             f"(data.train is a pack): set data.{key}={json.dumps(off)}, or "
                             "train from the annotation list")
    view = dict(num_frames=cfg["num_frames"], sampling_rate=data["sampling_rate"],
                crop_size=cfg["input_size"])

    def train_data(epoch, context):
        ds = packed_finetune_dataset(
            data["train"], num_sample=data["num_sample"], flip=data["flip"],
            scale=tuple(data["scale"]), ratio=tuple(data["ratio"]), shuffle=True, repeat=True,
            seed=cfg["seed"] * 100_003 + epoch, mixup=mixup, input_context=context,
            batch_size=context.get_per_replica_batch_size(global_batch), **view)
        if data["service"] is None:
            return ds
        from videomae_tf.data.service import distribute

        if context.num_input_pipelines > 1:
            raise InputError(f"data.service={data['service']!r}: one trainer reads from a "
                             f"tf.data service; this run has {context.num_input_pipelines} "
                             "workers (run one, or leave data.service unset)")
        return distribute(ds, data["service"])

    val = None
    if data["val"]:
        val = packed_validation_dataset(data["val"], short_side=data["short_side"],
                                        batch_size=cfg["val_batch_size"] or max(global_batch, 1),
                                        **view)
    return train_data, val


def _init_source(init):
    """The ``init`` model as a local path, fetched before training starts (a zoo name or
    ``hf://`` handle is downloaded and converted once; a missing one fails here)."""
    if not init:
        return None
    from videomae_tf.hub import resolve

    return resolve(init)


def finetune(config):
    """Fine-tune a classifier as ``config`` says (see the module doc); returns a summary.

    The summary: output_dir, weights (final .weights.h5), step, epochs, steps_per_epoch,
    total_batch, lr (scaled), the last epoch's train/val metrics, history (one dict per
    epoch run in this call) and the latest checkpoint.
    """
    cfg = resolve_config(config)
    train_records, val_records = data_lists(cfg, "finetune")
    _check_labels(cfg, train_records, "data.train")
    _check_labels(cfg, val_records or [], "data.val")
    _check_service(cfg)
    init = _init_source(cfg["init"])
    plan = plan_run(cfg, len(train_records) * cfg["data"]["num_sample"],
                    f"{len(train_records)} training videos")

    def build_model():
        model = build_classifier(cfg)
        if init is not None:
            model.load_encoder_weights(init)
        return model

    model, optimizer = build_model_and_optimizer(cfg, plan, build_model, cfg["layer_decay"])
    mixup_on = cfg["mixup"] > 0 or cfg["cutmix"] > 0
    trainer = make_trainer(cfg, plan, model, optimizer, loss_fn=loss_function(cfg),
                           label_smoothing=0.0 if mixup_on else cfg["smoothing"])  # mixup targets carry it
    train_data, val_data = _datasets(cfg, train_records, val_records, plan.per_replica_batch,
                                     plan.total_batch)
    record_config(cfg, plan)
    result = trainer.fit(train_data, epochs=cfg["epochs"], steps_per_epoch=plan.steps_per_epoch,
                         val_data=val_data, resume=cfg["resume"], eval_every=cfg["eval_every"],
                         data_per_worker=True)
    if trainer.chief:
        save_weights(model, plan.out / "final.weights.h5", step=result["step"],
                     num_classes=cfg["num_classes"])
    last = result["history"][-1] if result["history"] else {}
    return dict(plan.summary(cfg, result),
                **{k: v for k, v in last.items() if k.startswith(("train_", "val_"))})

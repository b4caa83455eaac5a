"""Every run config as data: the defaults of fine-tuning and pretraining and each recipe
(the official ones, MA-52 and the tiny synthetic ones), behind one ``get_config(task, name)``.

Official values: MCG-NJU/VideoMAE ``scripts/*/finetune.sh`` and the defaults of
``run_class_finetuning.py`` / ``run_mae_pretraining.py``; VideoMAE V2's scripts
(docs/numerics.md#recipes). A recipe is a complete config: the task's defaults, then the
dataset's settings, then the architecture's. Config files, flags and ``--set`` override
it. Learning rates are BASE rates: the runs multiply lr, min_lr and warmup_lr by total
batch / 256, as the official scripts do (``lr_scaling="none"``: as written). ``batch_size``
is per replica (per GPU); the official runs used the GPU counts noted.
"""

from videomae_tf.config.checks import (check_agreement, check_types, check_keys,
                                       check_values)
from videomae_tf.config.overrides import merge
from videomae_tf.errors import UnknownNameError

TASKS = ("finetune", "pretrain")

# The engine's keys of every run, fine-tuning or pretraining (documented in finetune.py).
RUN_DEFAULTS = dict(
    output_dir=None,
    resume="auto",
    checkpoint_every=1000,
    keep_checkpoints=3,
    log_every=20,
    seed=0,
    strategy="auto",
    model_parallel=1,        # JAX: devices along the mesh's model axis (ViT-H/g)
    collective_timeout=600,  # seconds a multi-worker collective waits for its peers
    precision="auto",
    jit_compile=True,
    progress=True,
    steps_per_epoch=None,
)

# run_class_finetuning.py defaults, plus the engine's own keys (documented in finetune.py).
FINETUNE_DEFAULTS = dict(
    # model
    model=dict(arch="vit_b"),          # arch + any VideoMAEClassifier option
    num_classes=400,
    num_frames=16,
    input_size=224,
    drop_path=0.1,
    fc_drop_rate=0.0,
    init=None,                          # pretrained model file (encoder weights)
    head=None,                          # MA-52 heads: {type, dropout, frame_assist, ...}
    loss=None,                          # None: the official criterion; MA-52: ce_f1, ...
    # data
    data=dict(train=None, val=None, root=None, synthetic=None, sampler="dense",
              val_sampler="dense_center", sampling_rate=4, short_side=224, num_sample=2,
              flip=True, rand_aug="rand-m7-n4-mstd0.5-inc1", erase_prob=0.25,
              erase_max_area=1 / 3, scale=[0.08, 1.0], ratio=[3 / 4, 4 / 3],
              color_jitter=False, decode_short_side=None, backend="auto",
              num_parallel_calls=None, service=None),
    mixup=0.8,
    cutmix=1.0,
    mixup_prob=1.0,
    mixup_switch_prob=0.5,
    smoothing=0.1,
    # optimisation
    epochs=30,
    batch_size=64,
    update_freq=1,
    lr=1e-3,
    min_lr=1e-6,
    warmup_lr=0.0,                      # the official fine-tune schedule warms up from 0
    warmup_epochs=5,
    warmup_steps=-1,
    layer_decay=0.75,
    backbone_lr_scale=1.0,              # rate multiplier of a head model's backbone
    lr_scaling="linear",                # "linear": rates x total batch / 256; "none"
    weight_decay=0.05,
    opt_betas=[0.9, 0.999],
    opt_eps=1e-8,
    clip_grad=None,
    # evaluation (multi-view testing is videomae_tf.evaluation's)
    val_batch_size=None,
    eval_every=1,
    test_num_segment=5,
    test_num_crop=3,
    # run
    **RUN_DEFAULTS,
)

_K400 = dict(num_classes=400, data=dict(sampler="dense", sampling_rate=4, flip=True),
             test_num_segment=5, test_num_crop=3)
_SSV2 = dict(num_classes=174, data=dict(sampler="segment", flip=False),
             test_num_segment=2, test_num_crop=3)
_UCF101 = dict(num_classes=101, data=dict(sampler="dense", sampling_rate=4, flip=True),
               test_num_segment=5, test_num_crop=3)
# MA-52 (docs/numerics.md#ma52; qklee-lz/ACMMM2024-MAC's winning mmaction2 config): a token-map backbone
# with TSN + frame and coarse assisting heads, CE+F1 "FineACoarseDouble"; UniformSample 16,
# RandomResizedCrop area 0.6-1 aspect 1/3-1, resize 224, ColorJitter, erasing (<= 0.2 of
# the frame), flip; AdamW 3e-4 as written (no batch scaling), wd 0.01, backbone x0.1, 2
# warmup epochs from 0.1 x lr, cosine to 0, 42 epochs (batch 24); test UniformSample 3x1.
_MA52 = dict(
    num_classes=52, drop_path=0.0, head=dict(type="tsn", dropout=0.5, frame_assist=True,
                                             coarse_assist=True, arcface="target"),
    loss="fine_a_coarse_double",
    data=dict(sampler="uniform", val_sampler="uniform_test", num_sample=1, flip=True,
              rand_aug=None, erase_prob=0.5, erase_max_area=0.2, scale=[0.6, 1.0],
              ratio=[1 / 3, 1.0], color_jitter=True),
    mixup=0.0, cutmix=0.0, smoothing=0.0, epochs=42, batch_size=24, lr=3e-4, min_lr=0.0,
    warmup_lr=3e-5, warmup_epochs=2, lr_scaling="none", layer_decay=None,
    backbone_lr_scale=0.1, weight_decay=0.01, test_num_segment=3, test_num_crop=1)

# (dataset settings, {arch: settings}, default arch). Comments: the official run.
_FINETUNE = {
    "k400": (_K400, {
        "vit_s": dict(lr=5e-4, epochs=150, batch_size=12),  # 32 GPUs
        "vit_b": dict(lr=5e-4, epochs=75, batch_size=6),    # 64 GPUs, 1600-epoch pretrain
        "vit_l": dict(lr=2e-3, epochs=35, batch_size=2),    # 64 GPUs
        "vit_h": dict(lr=1e-3, epochs=50, batch_size=8, drop_path=0.2, fc_drop_rate=0.5,
                      warmup_lr=1e-8, min_lr=1e-5),        # 64 GPUs
    }, "vit_b"),
    "ssv2": (_SSV2, {
        "vit_s": dict(lr=1e-3, epochs=40, batch_size=12, layer_decay=0.7),  # 32 GPUs
        "vit_b": dict(lr=5e-4, epochs=30, batch_size=6),    # 64 GPUs, 2400-epoch pretrain
    }, "vit_b"),
    "ma52": (_MA52, {"vit_b": {}}, "vit_b"),
    "ucf101": (_UCF101, {
        "vit_b": dict(lr=5e-4, epochs=100, batch_size=16, warmup_lr=1e-8, min_lr=1e-5,
                      layer_decay=0.7, fc_drop_rate=0.5, drop_path=0.2),  # 8 GPUs
    }, "vit_b"),
    # The embedded synthetic motion dataset on a 2-core CPU: a tiny model from scratch,
    # >= 90 % val top-1 in about 2 CPU minutes (tests/training/test_accuracy.py).
    # Patch 4 keeps enough spatial tokens at 32 px to see rotation; tubelet 4 lets the
    # patch embedding itself see motion over 4 sampled frames. No flip (left/right are
    # classes), mild crops, no RandAugment/erasing/mixup; head init 1.0 (from scratch).
    # lr is a BASE rate: 3.2e-2 x 16 / 256 = 2e-3 actual.
    # OpenCV reads the small MJPEG files it wrote 2.2 ms each against decord's 7.4 (the
    # "auto" choice, made for large H.264 files): the whole run 103 -> 74 s on an AVX2 Zen 3.
    "synthetic": (dict(
        num_classes=8, num_frames=8, input_size=32, drop_path=0.0,
        model=dict(arch=None, patch_size=4, tubelet_size=4, embed_dim=64, depth=2,
                   num_heads=2, init_scale=1.0),
        data=dict(synthetic=dict(num_train_per_class=160, num_val_per_class=16), sampler="dense",
                  sampling_rate=4, short_side=32, num_sample=1, flip=False, rand_aug=None,
                  erase_prob=0.0, scale=[0.8, 1.0], backend="opencv"),
        mixup=0.0, cutmix=0.0, smoothing=0.1, epochs=7, batch_size=16, lr=3.2e-2, min_lr=1e-4,
        warmup_epochs=1, layer_decay=None, weight_decay=0.05, test_num_segment=2,
        test_num_crop=1, precision="float32", checkpoint_every=0, log_every=5,
    ), {}, None),
}

FINETUNE_RECIPES = tuple(
    [name for name in _FINETUNE]
    + [f"{name}_{arch}" for name, (_, archs, _) in _FINETUNE.items() for arch in archs]
)


# Pretraining: run_mae_pretraining.py defaults (V2: its scripts), plus the engine's keys
# (documented in training/pretrain.py).
PRETRAIN_DEFAULTS = dict(
    model=dict(arch="vit_b", version="v1"),  # arch + VideoMAEPretrainer options (decoder: the arch's)
    num_frames=16,
    input_size=224,
    mask_type="tube",
    mask_ratio=0.9,
    decoder_mask_type=None,             # V2: "running_cell"
    decoder_mask_ratio=0.5,
    normalize_target=True,
    drop_path=0.0,
    data=dict(train=None, val=None, root=None, synthetic=None, sampler="pretrain",
              sampling_rate=4, num_sample=1, decode_short_side=None, backend="auto",
              num_parallel_calls=None),
    epochs=800,
    batch_size=32,
    update_freq=1,
    lr=1.5e-4,
    min_lr=1e-5,
    warmup_lr=1e-6,
    warmup_epochs=40,
    warmup_steps=-1,
    weight_decay=0.05,
    opt_betas=[0.9, 0.95],
    opt_eps=1e-8,
    clip_grad=None,
    visualize_every=1,                  # epochs between reconstruction pictures (0: none)
    **RUN_DEFAULTS,
)

# The embedded synthetic dataset on a 2-core CPU: the encoder of the "synthetic"
# fine-tuning recipe (8 x 32 x 32 clips, patch 4, tubelet 4, 64 wide, 2 blocks: a
# 2 x 8 x 8 grid of 128 tokens) plus a small decoder, on the same rendered videos.
# Mask ratio 0.75 (the official small-dataset setting, UCF101): 32 of 128 tokens visible.
# Random (not tube) masking: with only 2 temporal token slots, a patch hidden in one slot
# is often visible in the other, so reconstruction asks where the shape moved -- the
# motion the classes are made of. 4 views per decoded video (V2's num_sample): decoding
# is most of a step here, so this nearly halves the time per step. 10 epochs = 3,200
# steps, about 3 CPU minutes.
# lr is a BASE rate: 1.6e-2 x 16 / 256 = 1e-3 actual. 3x that (the previous recipe)
# reaches about the same loss but grows the patch embedding's output to ~25x a fresh
# one's, which drowns the positions and makes the encoder a poor start for fine-tuning
# (8 labels per class: 0.42 mean top-1 against 0.72 at this rate; 1/3 of it: 0.58;
# benchmarks/pretrain_then_finetune.py, README).
# Pixel targets (normalize_target=False): the synthetic backgrounds are flat colour plus
# static noise, which the per-patch normalisation of the official target blows up into
# unpredictable unit-variance noise, so that loss hardly moves on this data.
_SYNTHETIC_PRETRAIN = dict(
    model=dict(arch=None, version="v1", patch_size=4, tubelet_size=4, embed_dim=64, depth=2,
               num_heads=2, decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2),
    num_frames=8, input_size=32, mask_type="random", mask_ratio=0.75, normalize_target=False,
    data=dict(synthetic=dict(num_train_per_class=160, num_val_per_class=16), sampling_rate=4,
              num_sample=4, backend="opencv"),  # OpenCV: as the fine-tuning recipe's note says
    epochs=10, batch_size=16, lr=1.6e-2, min_lr=1e-4, warmup_lr=1e-5, warmup_epochs=1,
    weight_decay=0.05, precision="float32", checkpoint_every=0, log_every=5,
)

PRETRAIN_RECIPES = {
    # 64 GPUs x 32 = 2048 (the paper's 1024 also works); 800 / 1600 / 2400 epochs
    "k400_v1": dict(epochs=1600),
    "ssv2_v1": dict(epochs=2400, data=dict(sampling_rate=2)),
    "ucf101_v1": dict(epochs=3200, mask_ratio=0.75, lr=3e-4, batch_size=24),  # 8 GPUs
    # V2: running-cell decoder mask 0.5, 4 views per video, lr 1e-3
    "k400_v2": dict(model=dict(version="v2"), decoder_mask_type="running_cell",
                    data=dict(num_sample=4), lr=1e-3),
    "k710_v2_vit_g": dict(model=dict(arch="vit_g", version="v2"),
                          decoder_mask_type="running_cell", data=dict(num_sample=4),
                          lr=6e-4, clip_grad=0.02),
    "synthetic": _SYNTHETIC_PRETRAIN,
    # V2 dual masking on the same data: tube mask, running-cell decoder mask 0.5
    "synthetic_v2": merge(_SYNTHETIC_PRETRAIN, dict(
        model=dict(version="v2"), decoder_mask_type="running_cell", decoder_mask_ratio=0.5,
        mask_type="tube", epochs=5)),
}


#: MAE's linear-probing settings (lr is the base rate, scaled by batch / 256; SGD with
#: momentum in place of LARS, see ``training.linear_probe``).
PROBE_DEFAULTS = dict(epochs=90, batch_size=256, lr=0.1, warmup_epochs=10, momentum=0.9,
                      weight_decay=0.0, seed=0)


def defaults(task: str) -> dict:
    """The defaults every config of ``task`` ("finetune" | "pretrain") starts from (a copy)."""
    if task not in TASKS:
        raise UnknownNameError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return merge(FINETUNE_DEFAULTS if task == "finetune" else PRETRAIN_DEFAULTS, {})


def recipe_names(task: str) -> tuple:
    """The names ``get_config(task, name)`` knows."""
    defaults(task)  # checks the task
    return FINETUNE_RECIPES if task == "finetune" else tuple(PRETRAIN_RECIPES)


def get_config(task: str, name: str) -> dict:
    """The complete config of recipe ``name`` for ``task`` (a fresh copy to edit).

    Fine-tuning: 'k400', 'ssv2', 'ucf101', 'ma52' (ViT-B), '<dataset>_<arch>' (e.g.
    'k400_vit_s', 'ssv2_vit_s', 'k400_vit_h') or 'synthetic'. Pretraining: 'k400_v1',
    'ssv2_v1', 'ucf101_v1', 'k400_v2', 'k710_v2_vit_g', 'synthetic', 'synthetic_v2'.
    """
    base = defaults(task)
    if task == "pretrain":
        if name not in PRETRAIN_RECIPES:
            raise UnknownNameError(f"unknown pretraining recipe {name!r}; known: "
                           f"{', '.join(PRETRAIN_RECIPES)}")
        return merge(base, PRETRAIN_RECIPES[name])
    dataset, _, arch = name.partition("_")
    if dataset not in _FINETUNE or (arch and arch not in _FINETUNE[dataset][1]):
        raise UnknownNameError(f"unknown recipe {name!r}; known: {', '.join(FINETUNE_RECIPES)}")
    settings, archs, default_arch = _FINETUNE[dataset]
    arch = arch or default_arch
    config = merge(base, settings)
    if arch:
        config = merge(config, dict(archs[arch], model=dict(arch=arch)))
    return config


def resolve(config: dict, task: str) -> dict:
    """The task's defaults with ``config`` on top, checked: unknown keys, values out of
    range and model options that disagree with the run's keys are an InputError."""
    base = defaults(task)
    check_keys(config, base, task)
    cfg = merge(base, config)
    check_values(cfg, task)  # the keys with ranges first: their message says more
    check_types(cfg, base, task)
    check_agreement(cfg, task)
    return cfg


def get_recipe(name: str) -> dict:
    """``get_config("finetune", name)``: the fine-tuning recipes, the common case."""
    return get_config("finetune", name)


def get_pretrain_config(name: str) -> dict:
    """``get_config("pretrain", name)``."""
    return get_config("pretrain", name)

"""Training step time of our VideoMAE against transformers' VideoMAE on torch, in one run.

One step = forward + backward + AdamW update on a fixed batch, fp32 (``--dtype bfloat16``:
mixed bf16 on both sides). Two workloads; in each, one random transformers model (seed 0)
is converted with our converter, so every contender starts from the same weights, and
the losses of the first three steps agree between the sides (the check that the same
model, loss and optimizer update are timed; the first rate of the warmup is 0, so steps
1 and 2 see the same weights):

* ``finetune``: the 400-class classifier, label-smoothed (0.1) cross entropy, AdamW with
  the official layer decay (0.75) and no weight decay on biases, norms and tokens
  (``VideoMAEForVideoClassification``); default ViT-S/16 on 8 x 112 x 112 clips, batch 2;
* ``pretrain``: the masked autoencoder with its official V1 decoder (ViT-S: 192 wide, 4
  deep; the decoder reconstructs every masked token), tube mask ratio 0.9,
  normalised-pixel MSE, AdamW betas (0.9, 0.95) (``VideoMAEForPreTraining``); default
  16 x 224 x 224 clips, batch 1.

Contenders, alternating step by step (``_report.alternating_times``):

* ``ours_xla``: the engine's own step (``Trainer`` -> ``TensorFlowSteps.train_step``,
  forward + backward XLA-compiled: the default), what ``finetune`` and ``pretrain`` run;
* ``ours_graph``: the same step with ``jit_compile=False`` (a plain ``tf.function``);
* ``hf_sdpa``: transformers with torch's fused attention (its default) and
  ``torch.optim.AdamW`` over the official parameter groups, the rate set every step (as
  the official scripts do) and the gradient norm computed (as our step does);
* ``hf_eager``: the same with transformers' plain attention;
* ``hf_compile``: ``torch.compile`` of the sdpa model, a reference column (compiling
  takes one to two minutes per workload on 2 CPU cores).

Reported per workload and mode: the median ms per step over ``--repeats`` rounds (the
``--warmup`` steps, compilation included, are reported apart), clips/s, training GFLOP/s
(3 x the analytic forward count) and ``speedup_vs_<mode>`` = that transformers mode's
time / this one's (> 1: this one is faster).

    python benchmarks/train_step.py                          # ViT-S, fp32: ~10 CPU minutes
    python benchmarks/train_step.py --modes ours_xla hf_sdpa --workloads pretrain
    python benchmarks/train_step.py --size vit_b --finetune-clip 16 224 --finetune-batch 8 \\
        --pretrain-batch 16 --dtype bfloat16                   # on a GPU
    python benchmarks/train_step.py --size tiny --repeats 2 --modes ours_xla hf_sdpa  # smoke

(``tiny``, 64 wide, without XLA hits a slow TensorFlow CPU kernel: the Conv3D filter
gradient takes ~20 s at 64 output channels, ~0.03 s at ViT-S's 384.)

Writes ``benchmarks/results/train_step_<cpu|gpu>.json`` (or ``--output``) and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# torch's OpenMP threads spin while they wait; on a CPU that other processes share, a
# descheduled thread then holds every barrier up (here: 9 s instead of 0.7 s per
# fine-tuning step). Passive waiting is torch's best case there; TensorFlow's thread pool
# does not use OpenMP. Set OMP_WAIT_POLICY=ACTIVE to time the default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import RESULTS, alternating_times, machine, write_report  # noqa: E402
from inference import SIZES, matmul_rate, multiply_adds  # noqa: E402
from pretrain_step import batch_for, pretrain_flops  # noqa: E402

MODES = ("ours_xla", "ours_graph", "hf_sdpa", "hf_eager", "hf_compile")
NUM_CLASSES = 400
#: The official recipes' optimizer settings (fine-tuning / pretraining).
FINETUNE_OPTIMIZER = dict(weight_decay=0.05, betas=(0.9, 0.999), layer_decay=0.75)
PRETRAIN_OPTIMIZER = dict(weight_decay=0.05, betas=(0.9, 0.95), layer_decay=None)
LR, MIN_LR, TOTAL_STEPS, WARMUP_STEPS = 1e-4, 1e-6, 1000, 10
#: transformers decoder settings of the tiny smoke size (the others: our architectures).
TINY_DECODER = dict(decoder_hidden_size=32, decoder_num_hidden_layers=1,
                    decoder_num_attention_heads=2, decoder_intermediate_size=128)


# ----- the same model on both sides ------------------------------------------------------
def hf_config(size: str, workload: str, frames: int, image_size: int):
    """transformers' config of ``size`` for a workload: a 400-class classifier (mean
    pooling) or the masked autoencoder of the official pretraining (final encoder norm)."""
    from transformers import VideoMAEConfig

    settings = dict(SIZES[size], num_frames=frames, image_size=image_size)
    if workload == "finetune":
        return VideoMAEConfig(**settings, num_labels=NUM_CLASSES)
    return VideoMAEConfig(**settings, **hf_decoder(size), use_mean_pooling=False,
                          norm_pix_loss=True)


def hf_decoder(size: str) -> dict:
    """The official V1 decoder of ``size`` in transformers' terms."""
    if size == "tiny":
        return TINY_DECODER
    from videomae_tf.models import ARCHITECTURES

    decoder = ARCHITECTURES[size]["decoder"]["v1"]
    width = decoder["decoder_embed_dim"]
    return dict(decoder_hidden_size=width, decoder_num_hidden_layers=decoder["decoder_depth"],
                decoder_num_attention_heads=decoder["decoder_num_heads"],
                decoder_intermediate_size=4 * width)


def save_hf_model(config, workload: str, folder: Path) -> Path:
    """A random transformers model (seed 0) saved in ``folder``: the weights everyone starts from."""
    import torch
    from transformers import VideoMAEForPreTraining, VideoMAEForVideoClassification

    torch.manual_seed(0)
    cls = VideoMAEForVideoClassification if workload == "finetune" else VideoMAEForPreTraining
    cls(config).save_pretrained(folder)
    return folder


def load_hf_model(folder: Path, workload: str, attention: str, device):
    """The saved model with ``attention`` ("sdpa" or "eager"), in training mode on ``device``."""
    from transformers import VideoMAEForPreTraining, VideoMAEForVideoClassification

    cls = VideoMAEForVideoClassification if workload == "finetune" else VideoMAEForPreTraining
    return cls.from_pretrained(folder, attn_implementation=attention).to(device).train()


def load_our_model(folder: Path, dtype: str):
    """The saved transformers model converted to ours (``dtype``: the Keras policy)."""
    import keras

    from checkpoints_convert import convert

    keras.config.set_dtype_policy("mixed_bfloat16" if dtype == "bfloat16" else "float32")
    try:
        return convert(folder, None, log=None, progress=False).model
    finally:
        keras.config.set_dtype_policy("float32")


# ----- optimizers: the official AdamW on both sides -------------------------------------
def official_key(hf_name: str) -> str:
    """The official key of a transformers parameter, as far as the optimizer rules need
    it (``layer_id``, ``uses_weight_decay``): embeddings -> ``patch_embed.*``,
    ``encoder.layer.i`` -> ``blocks.i``, the rest unchanged (``mask_token``, heads)."""
    name = hf_name.removeprefix("videomae.")
    if name.startswith("embeddings."):
        return "patch_embed." + name[len("embeddings."):]
    match = re.match(r"encoder\.layer\.(\d+)\.(.+)", name)
    return f"blocks.{match[1]}.{match[2]}" if match else name


def hf_optimizer(model, settings: dict):
    """``torch.optim.AdamW`` over the official parameter groups (layer id, decay or not),
    each with its ``lr_scale``, as the official ``optim_factory`` builds them."""
    import torch

    from videomae_tf.training import layer_id, uses_weight_decay

    depth, decay = model.config.num_hidden_layers, settings["layer_decay"]
    groups: dict[tuple, dict] = {}
    for name, parameter in model.named_parameters():
        key = official_key(name)
        scale = decay ** (depth + 1 - layer_id(key, depth)) if decay else 1.0
        decayed = uses_weight_decay(key, tuple(parameter.shape))
        group = groups.setdefault((scale, decayed), dict(
            params=[], lr_scale=scale, weight_decay=settings["weight_decay"] if decayed else 0.0))
        group["params"].append(parameter)
    return torch.optim.AdamW(list(groups.values()), lr=LR, betas=settings["betas"], eps=1e-8)


def optimizer_summary(sizes_scales_decays) -> dict:
    """Parameters, those with weight decay, and the lr-scale-weighted count: equal on both
    sides when both optimizers apply the same rules to the same architecture."""
    rows = list(sizes_scales_decays)
    return dict(parameters=int(sum(n for n, _, _ in rows)),
                weight_decayed=int(sum(n for n, _, d in rows if d)),
                lr_scaled=round(float(sum(n * s for n, s, _ in rows)), 1))


def our_optimizer_summary(model, optimizer) -> dict:
    """``optimizer_summary`` of our ``LayerDecayAdamW`` on ``model``."""
    decayed = set(optimizer.decay_paths or [v.path for v in model.trainable_variables])
    return optimizer_summary((int(np.prod(v.shape)), optimizer.lr_scales.get(v.path, 1.0),
                              v.path in decayed) for v in model.trainable_variables)


def hf_optimizer_summary(optimizer) -> dict:
    """``optimizer_summary`` of ``hf_optimizer``'s parameter groups."""
    return optimizer_summary((p.numel(), g["lr_scale"], g["weight_decay"] > 0)
                             for g in optimizer.param_groups for p in g["params"])


# ----- one training step on each side ------------------------------------------------------
def our_step(model, batch, workload: str, jit_compile: bool) -> tuple[Callable[[], float], dict]:
    """The engine's own step on ``batch`` (returns the loss) and the optimizer summary.

    A ``Trainer`` with the official optimizer (``make_optimizer``) and loss; each call is
    one ``TensorFlowSteps.train_step`` on the next batch of a repeated dataset, exactly
    what ``Trainer.fit`` runs per step (the loss comes back as a float: synchronous).
    """
    import tensorflow as tf

    from videomae_tf.training import Trainer, make_optimizer
    from videomae_tf.training.pretrain import pretraining_loss_fn

    settings = FINETUNE_OPTIMIZER if workload == "finetune" else PRETRAIN_OPTIMIZER
    optimizer = make_optimizer(model, lr=LR, min_lr=MIN_LR, total_steps=TOTAL_STEPS,
                               warmup_steps=WARMUP_STEPS, **settings)
    if workload == "finetune":
        trainer = Trainer(model, optimizer, label_smoothing=0.1, jit_compile=jit_compile,
                          progress=False)
    else:
        trainer = Trainer(model, optimizer, loss_fn=pretraining_loss_fn(model),
                          jit_compile=jit_compile, progress=False)
    data = tf.data.Dataset.from_tensors(batch).repeat()
    iterator = trainer.steps.distribute(lambda epoch: data, 0, 0, False)
    return (lambda: trainer.steps.train_step(iterator)["loss"]), \
        our_optimizer_summary(model, optimizer)


def hf_step(model, batch, workload: str, device, dtype: str,
            compile: bool = False) -> tuple[Callable[[], float], dict]:
    """transformers' training step on ``batch`` (returns the loss) and the optimizer summary.

    The official loop's work: set each group's rate from the warmup-cosine schedule, zero
    the gradients, forward + loss (under bf16 autocast with ``dtype`` bfloat16), backward,
    the gradient norm, ``AdamW.step``; the batch moves host -> device inside the step (as
    ours does), and ``.item()`` waits for the device. ``compile``: the model through
    ``torch.compile`` (after the optimizer has read the parameter names).
    """
    import torch

    from videomae_tf.training import cosine_schedule

    settings = FINETUNE_OPTIMIZER if workload == "finetune" else PRETRAIN_OPTIMIZER
    optimizer = hf_optimizer(model, settings)
    if compile:
        model = torch.compile(model)
    rates = cosine_schedule(LR, MIN_LR, 1, TOTAL_STEPS, warmup_steps=WARMUP_STEPS)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    pixels, targets = hf_batch(batch, workload)
    counter = itertools.count()

    def forward_loss():
        x = pixels.to(device)
        if workload == "finetune":
            logits = model(pixel_values=x).logits.float()
            return torch.nn.functional.cross_entropy(logits, targets.to(device),
                                                     label_smoothing=0.1)
        return model(pixel_values=x, bool_masked_pos=targets.to(device)).loss

    def step() -> float:
        rate = float(rates[min(next(counter), len(rates) - 1)])
        for group in optimizer.param_groups:
            group["lr"] = rate * group["lr_scale"]
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            loss = forward_loss()
        loss.backward()
        grad_norm = torch.linalg.vector_norm(torch.stack(  # the official get_grad_norm_
            [torch.linalg.vector_norm(p.grad) for p in parameters if p.grad is not None]))
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        grad_norm.item()
        return loss.item()

    return step, hf_optimizer_summary(optimizer)


def hf_batch(batch, workload: str):
    """Our batch in transformers' layout: (B, T, C, H, W) pixels and the labels, or the
    boolean mask (True = masked) of the visible indices."""
    import torch

    if workload == "finetune":
        clips, labels = batch
        return (torch.from_numpy(np.ascontiguousarray(clips.transpose(0, 1, 4, 2, 3))),
                torch.from_numpy(labels.astype(np.int64)))
    clips, visible = batch["pixel_values"], batch["visible_index"]
    tokens = visible.shape[1] + batch["reconstruct_index"].shape[1]
    mask = np.ones((len(clips), tokens), bool)
    np.put_along_axis(mask, visible, False, axis=1)
    return (torch.from_numpy(np.ascontiguousarray(clips.transpose(0, 1, 4, 2, 3))),
            torch.from_numpy(mask))


# ----- one workload ---------------------------------------------------------------------
def make_batch(workload: str, model, batch: int, mask_ratio: float):
    """A fixed random batch: (clips, labels), or the pretraining dict (tube mask, V1)."""
    rng = np.random.default_rng(1)
    if workload == "pretrain":
        return batch_for(model, mask_ratio, False, batch, rng)
    clips = rng.standard_normal((batch, *model.clip_shape)).astype("float32")
    return clips, rng.integers(0, NUM_CLASSES, batch).astype("int32")


def forward_flops(workload: str, model, size: str, batch) -> float:
    """Analytic forward FLOPs (2 x multiply-adds) of one clip."""
    if workload == "finetune":
        frames, height = model.clip_shape[0], model.clip_shape[1]
        return 2 * multiply_adds(dict(SIZES[size], num_frames=frames, image_size=height))
    return pretrain_flops(model, batch["visible_index"].shape[1],
                          batch["reconstruct_index"].shape[1])["total"]


def bench_workload(workload: str, args, device, folder: Path) -> tuple[list[dict], dict]:
    """Time every mode on one workload: one row per mode, and the optimizer summary."""
    frames, image_size = args.finetune_clip if workload == "finetune" else args.pretrain_clip
    batch_size = args.finetune_batch if workload == "finetune" else args.pretrain_batch
    saved = save_hf_model(hf_config(args.size, workload, frames, image_size), workload,
                          folder / workload)
    reference = load_our_model(saved, args.dtype)  # for the batch (grid, masks) and FLOPs
    batch = make_batch(workload, reference, batch_size, args.mask_ratio)
    spare = [reference]
    steps, summaries = {}, {}
    for mode in args.modes:
        if mode.startswith("ours"):
            model = spare.pop() if spare else load_our_model(saved, args.dtype)
            steps[mode], summaries[mode] = our_step(model, batch, workload, mode == "ours_xla")
        else:
            hf = load_hf_model(saved, workload, "eager" if mode == "hf_eager" else "sdpa", device)
            steps[mode], summaries[mode] = hf_step(hf, batch, workload, device, args.dtype,
                                                   compile=mode == "hf_compile")
    if len({str(s) for s in summaries.values()}) > 1:
        raise RuntimeError(f"the optimizers differ between the sides: {summaries}")
    losses = {mode: [] for mode in steps}
    calls = {mode: (lambda m=mode: losses[m].append(steps[m]())) for mode in steps}
    print(f"{workload}: warming up (compilation) and {args.repeats} alternating rounds",
          flush=True)
    first, times = alternating_times(calls, args.repeats, args.warmup)
    flops = 3 * forward_flops(workload, reference, args.size, batch) * batch_size
    medians = {mode: statistics.median(values) for mode, values in times.items()}
    rows = []
    for mode, seconds in medians.items():
        rows.append(dict(
            workload=workload, size=args.size, clip=[frames, image_size, image_size],
            batch=batch_size, dtype=args.dtype, mode=mode,
            ms_per_step=round(1000 * seconds, 1), clips_per_second=round(batch_size / seconds, 3),
            train_gflops=round(flops / seconds / 1e9, 1),
            **{f"speedup_vs_{other}": round(medians[other] / seconds, 3)
               for other in medians if other.startswith("hf")},
            min_ms_per_step=round(1000 * min(times[mode]), 1),
            warmup_seconds=[round(s, 2) for s in first[mode]],
            step_ms=[round(1000 * s, 1) for s in times[mode]],
            first_losses=[round(loss, 5) for loss in losses[mode][:3]]))
        print(f"{workload} {mode:11s} {1000 * seconds:9.1f} ms/step  first losses "
              f"{rows[-1]['first_losses']}", flush=True)
    return rows, summaries[args.modes[0]]


def markdown(rows: list[dict]) -> str:
    """The results as a markdown table (ratios = transformers mode's time / this one's)."""
    others = [key for key in rows[0] if key.startswith("speedup_vs_")]
    lines = ["| workload | clip x batch | mode | ms / step | clips / s | GFLOP/s | "
             + " | ".join(f"x vs {k[len('speedup_vs_'):]}" for k in others)
             + " | warm-up steps (s) | losses, steps 1-3 |",
             "|---" * (8 + len(others)) + "|"]
    for row in rows:
        clip = "x".join(str(v) for v in row["clip"])
        lines.append(
            f"| {row['workload']} | {clip} x {row['batch']} | {row['mode']} | "
            f"{row['ms_per_step']:.0f} | {row['clips_per_second']:.2f} | {row['train_gflops']} | "
            + " | ".join(f"{row.get(k, float('nan')):.2f}" for k in others)
            + f" | {', '.join(f'{s:.1f}' for s in row['warmup_seconds'])} | "
            + " / ".join(f"{loss:.4f}" for loss in row["first_losses"]) + " |")
    return "\n".join(lines)


def libraries() -> dict:
    """The versions the numbers were measured with, and torch's CPU threads."""
    import keras
    import tensorflow as tf
    import torch
    import transformers

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "torch_threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="vit_s", choices=sorted(SIZES))
    parser.add_argument("--workloads", nargs="+", default=["finetune", "pretrain"],
                        choices=("finetune", "pretrain"))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--finetune-clip", nargs=2, type=int, metavar=("FRAMES", "SIZE"),
                        help="default: 8 112 (tiny: its own 8 64)")
    parser.add_argument("--finetune-batch", type=int, default=2)
    parser.add_argument("--pretrain-clip", nargs=2, type=int, metavar=("FRAMES", "SIZE"),
                        help="default: 16 224 (tiny: its own 8 64)")
    parser.add_argument("--pretrain-batch", type=int, default=1)
    parser.add_argument("--mask-ratio", type=float, default=0.9)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed steps per mode first (compilation)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    own = [SIZES[args.size].get("num_frames"), SIZES[args.size].get("image_size")]
    args.finetune_clip = args.finetune_clip or (own if own[0] else [8, 112])
    args.pretrain_clip = args.pretrain_clip or (own if own[0] else [16, 224])

    import tensorflow as tf
    import torch

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:  # leave GPU memory to torch as well
        tf.config.experimental.set_memory_growth(gpu, True)
    kind = "gpu" if gpus else "cpu"
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    info = dict(machine(), device=kind, torch_device=device.type, **libraries(),
                omp_wait_policy=os.environ["OMP_WAIT_POLICY"])
    if kind == "cpu":
        info["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
        info["matmul_gflops_at_start"] = {k: round(v, 1) for k, v in matmul_rate().items()}
    rows, optimizers = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads:
            workload_rows, optimizers[workload] = bench_workload(workload, args, device, Path(tmp))
            rows += workload_rows
    if kind == "cpu":
        info["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    table = markdown(rows)
    print("\n" + table + "\n")
    write_report(args.output or RESULTS / f"train_step_{kind}.json", {
        "machine": info,
        "command": " ".join(["python benchmarks/train_step.py",
                             *(sys.argv[1:] if argv is None else argv)]),
        "settings": dict(lr=LR, min_lr=MIN_LR, total_steps=TOTAL_STEPS,
                         warmup_steps=WARMUP_STEPS, finetune=FINETUNE_OPTIMIZER,
                         pretrain=PRETRAIN_OPTIMIZER, repeats=args.repeats, warmup=args.warmup,
                         mask_ratio=args.mask_ratio),
        "optimizer_parameters": optimizers,
        "results": rows,
        "table": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())

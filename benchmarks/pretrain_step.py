"""Pretraining step time vs. mask ratio, with and without VideoMAE V2's decoder mask.

One training step = the engine's XLA-compiled forward + backward + AdamW update
(``Trainer`` with ``pretraining_loss_fn``), on a fixed batch of random clips. The
encoder sees only the visible tokens, the decoder only visible + reconstructed ones, so
the step should get cheaper as the mask ratio grows, approaching the ratio of the
theoretical FLOPs (printed beside the measured times; the measured ratio stays above it
where fixed costs -- the patch embedding of the whole clip, the target, the optimizer,
gathers -- weigh in).

Configurations (N tokens, Nv visible, Nr reconstructed; the decoder sees Nv + Nr):
  ratio 0.75 / 0.9, V1: Nr = N - Nv (every masked token);
  ratio 0.75 / 0.9, V2: Nr = N / 2 (running-cell decoder mask 0.5);
  ratio 0 (no masking; the reference): Nv = N and the decoder reconstructs all N tokens
  (V1 column) or the N / 2 running-cell tokens (V2 column).

Theoretical FLOPs (multiply-adds x 2, forward; a training step is ~3x): patch embedding
2 N (3 t p^2) D; per block on n tokens 2 n (4 D^2 + 2 D M) + 4 n^2 D (q.k^T and attn.v);
encoder_to_decoder 2 Nv D Dd; decoder blocks on Nv + Nr tokens; head 2 Nr Dd V.

Default: ViT-S/16 with its 192 x 4 decoder on 8 x 128 x 128 clips (a 4 x 8 x 8 grid of
256 tokens), batch 2 -- a few minutes on 2 CPU cores. ``--frames 16 --size 224 --batch 8``
gives the official shapes (use a GPU). Writes ``benchmarks/results/pretrain_step.json``
(or ``--output``) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def block_flops(n, dim, mlp_hidden):
    """Forward FLOPs of one transformer block on n tokens."""
    return 2 * n * (4 * dim * dim + 2 * dim * mlp_hidden) + 4 * n * n * dim


def pretrain_flops(model, num_visible, num_reconstruct):
    """Theoretical forward FLOPs of the masked autoencoder for one clip."""
    enc = model.encoder.encoder_config
    dec = model.decoder_config
    d, dd = enc["embed_dim"], dec["decoder_embed_dim"]
    n = model.num_patches
    values = 3 * enc["tubelet_size"] * enc["patch_size"] ** 2
    embed = 2 * n * values * d
    encoder = enc["depth"] * block_flops(num_visible, d, int(d * enc["mlp_ratio"]))
    bridge = 2 * num_visible * d * dd
    tokens = num_visible + num_reconstruct
    decoder = dec["decoder_depth"] * block_flops(tokens, dd, int(dd * dec["decoder_mlp_ratio"]))
    head = 2 * num_reconstruct * dd * values
    return dict(embed=embed, encoder=encoder, decoder=decoder + bridge + head,
                total=embed + encoder + bridge + decoder + head)


def batch_for(model, ratio, decoder_mask, batch, rng):
    from videomae_tf import masking
    from videomae_tf.masking import visible_and_reconstructed

    grid = model.encoder.grid
    n = model.num_patches
    clip = rng.standard_normal((batch,) + model.encoder.clip_shape).astype("float32")
    if ratio > 0:
        encoder_mask = np.stack([masking.tube_mask(grid, ratio, rng) for _ in range(batch)])
    else:
        encoder_mask = np.zeros((batch, n), bool)
    if decoder_mask:
        dmask = np.stack([masking.running_cell_mask(grid, 0.5, rng) for _ in range(batch)])
    elif ratio > 0:
        dmask = None  # V1: every masked token
    else:
        dmask = np.zeros((batch, n), bool)  # nothing masked: reconstruct all
    visible, reconstruct = visible_and_reconstructed(encoder_mask, dmask)
    return {"pixel_values": clip, "visible_index": visible, "reconstruct_index": reconstruct}


def time_steps(model, optimizer, batch, steps, warmup):
    import tensorflow as tf

    from videomae_tf.training import Trainer
    from videomae_tf.training.pretrain import pretraining_loss_fn

    trainer = Trainer(model, optimizer, loss_fn=pretraining_loss_fn(model), jit_compile=True,
                      progress=False)
    data = tf.data.Dataset.from_tensors(batch).repeat()
    stamps = []
    trainer.fit(data, epochs=1, steps_per_epoch=warmup + steps, resume=False,
                callback=lambda step, logs: stamps.append(time.perf_counter()))
    times = np.diff(stamps[warmup - 1:])
    return float(np.median(times)), [round(float(t), 4) for t in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="vit_s")
    parser.add_argument("--version", default="v1", help="decoder sizes of v1 or v2")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (compilation)")
    parser.add_argument("--ratios", default="0,0.75,0.9")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "pretrain_step.json"))
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from videomae_tf.models import pretrain_model
    from videomae_tf.training import make_optimizer

    keras.utils.set_random_seed(0)
    model = pretrain_model(args.arch, args.version, num_frames=args.frames, img_size=args.size)
    optimizer = make_optimizer(model, lr=1e-4, total_steps=10_000, warmup_steps=10,
                               betas=(0.9, 0.95), layer_decay=None)
    rng = np.random.default_rng(0)
    rows = []
    for ratio in [float(r) for r in args.ratios.split(",")]:
        for decoder_mask in (False, True):
            batch = batch_for(model, ratio, decoder_mask, args.batch, rng)
            nv, nr = batch["visible_index"].shape[1], batch["reconstruct_index"].shape[1]
            seconds, all_times = time_steps(model, optimizer, batch, args.steps, args.warmup)
            flops = pretrain_flops(model, nv, nr)
            rows.append(dict(mask_ratio=ratio, decoder_mask="running_cell 0.5" if decoder_mask else None,
                             tokens=model.num_patches, visible=nv, reconstructed=nr,
                             decoder_tokens=nv + nr, step_seconds=seconds, step_times=all_times,
                             forward_gflops_per_clip=round(flops["total"] / 1e9, 3),
                             encoder_gflops=round(flops["encoder"] / 1e9, 3),
                             decoder_gflops=round(flops["decoder"] / 1e9, 3)))
            print(f"ratio {ratio} decoder mask {decoder_mask}: {seconds:.3f} s/step "
                  f"(Nv={nv}, Nr={nr})", flush=True)
    base = rows[0]
    for row in rows:
        row["time_ratio"] = round(row["step_seconds"] / base["step_seconds"], 4)
        row["flop_ratio"] = round(row["forward_gflops_per_clip"] / base["forward_gflops_per_clip"], 4)
    result = dict(
        benchmark="pretrain_step", arch=args.arch, version=args.version,
        clip=[args.frames, args.size, args.size, 3], grid=list(model.encoder.grid),
        batch=args.batch, steps=args.steps, warmup=args.warmup, jit_compile=True,
        device=("GPU" if tf.config.list_logical_devices("GPU") else "CPU"),
        cpu_count=os.cpu_count(), platform=platform.platform(), tensorflow=tf.__version__,
        keras=keras.__version__, reference="mask ratio 0, no decoder mask (decoder reconstructs all N)",
        rows=rows)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print()
    print(f"{args.arch} ({args.version} decoder), clip {args.frames}x{args.size}x{args.size}, "
          f"{model.num_patches} tokens, batch {args.batch}, {result['device']}")
    print()
    print("| mask ratio | decoder mask | encoder tokens | decoder tokens | step (s) | time ratio | FLOP ratio |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['mask_ratio']} | {row['decoder_mask'] or '-'} | {row['visible']} | "
              f"{row['decoder_tokens']} ({row['reconstructed']} predicted) | {row['step_seconds']:.3f} | "
              f"{row['time_ratio']:.3f} | {row['flop_ratio']:.3f} |")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

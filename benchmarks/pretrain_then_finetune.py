"""Does pretraining help? Fine-tune a tiny model on few labelled synthetic videos from a
masked-autoencoder pretrained encoder and from scratch, with the same small budget.

1. ``pretrain`` the 'synthetic' recipe on the training videos, labels unused (the
   semi-supervised setting VideoMAE is about: many videos, few labels);
2. ``finetune`` the 'synthetic' recipe on ``--labeled-per-class`` of those videos per
   class (a subset: video n of a class is the same whatever the dataset size) for
   ``--finetune-epochs``, once with ``init=<pretrain>/final.weights.h5`` and once from
   scratch -- same seed, data, schedule and steps -- for every ``--seeds`` value and
   every base learning rate in ``--lrs`` (each start is compared at its best rate: an
   encoder pretrained at too high a rate has a patch embedding whose outputs are many
   times a fresh one's, so the same Adam steps move it relatively less);
3. report single-view validation top-1 of both (per lr and seed, the mean over seeds)
   and the pretraining loss curve.

Writes ``benchmarks/results/pretrain_then_finetune.json`` (or ``--output``). About ten
minutes on 2 CPU cores with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="pretraining epochs (default: the synthetic pretraining recipe's)")
    parser.add_argument("--pretrained", help="skip pretraining: use these weights (a pretrain run's "
                                             "final.weights.h5)")
    parser.add_argument("--labeled-per-class", type=int, default=8,
                        help="labelled training videos per class for fine-tuning")
    parser.add_argument("--finetune-epochs", type=int, default=30)
    parser.add_argument("--lrs", type=float, nargs="+", default=[3.2e-2, 3.2e-1],
                        help="base fine-tuning learning rates to try for both starts "
                             "(the synthetic recipe's is 3.2e-2)")
    parser.add_argument("--layer-decay", type=float, default=None,
                        help="layer-wise lr decay of both fine-tuning runs (default: the "
                             "synthetic recipe's, none)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="fine-tuning seeds (pretraining uses the first)")
    parser.add_argument("--workdir", help="where runs and the dataset go (default: a temp dir)")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "pretrain_then_finetune.json"))
    args = parser.parse_args(argv)

    from videomae_tf.training import finetune, get_recipe
    from videomae_tf.config import get_pretrain_config
    from videomae_tf.training.pretrain import pretrain
    from videomae_tf.config import merge

    work = Path(args.workdir or tempfile.mkdtemp(prefix="videomae_pt_ft_"))
    pre_config = merge(get_pretrain_config("synthetic"), dict(
        output_dir=str(work / "pretrain"), progress=False, resume=False, seed=args.seeds[0],
        data=dict(root=str(work / "unlabeled"))))
    if args.pretrain_epochs:
        pre_config["epochs"] = args.pretrain_epochs
    started = time.time()
    if args.pretrained:
        pre = dict(weights=args.pretrained, step=None, history=[])
    else:
        pre = pretrain(pre_config)
        print(f"pretrained {pre['step']} steps in {time.time() - started:.0f} s: loss "
              f"{pre['history'][0]['train_loss']:.4f} (epoch 1) -> {pre['train_loss']:.4f}",
              flush=True)
    pretrain_seconds = time.time() - started

    def run(name, init, lr, seed):
        t0 = time.time()
        summary = finetune(merge(get_recipe("synthetic"), dict(
            output_dir=str(work / f"{name}_lr{lr}_seed{seed}"), epochs=args.finetune_epochs,
            init=init, lr=lr,
            progress=False, layer_decay=args.layer_decay, resume=False, seed=seed,
            eval_every=args.finetune_epochs,
            data=dict(root=str(work / "labeled"), synthetic=dict(
                num_train_per_class=args.labeled_per_class,
                num_val_per_class=pre_config["data"]["synthetic"]["num_val_per_class"])))))
        print(f"{name}, lr {lr}, seed {seed}: val top-1 {summary['val_top1']:.4f}, val loss "
              f"{summary['val_loss']:.4f}", flush=True)
        return dict(lr=lr, seed=seed, val_top1=summary["val_top1"], val_loss=summary["val_loss"],
                    train_loss=summary["train_loss"], steps=summary["step"],
                    seconds=round(time.time() - t0, 1))

    starts = {"from_pretrained": pre["weights"], "from_scratch": None}
    results = {name: {str(lr): [run(name, init, lr, seed) for seed in args.seeds] for lr in args.lrs}
               for name, init in starts.items()}
    mean = {name: {lr: sum(r["val_top1"] for r in rows) / len(rows) for lr, rows in by_lr.items()}
            for name, by_lr in results.items()}
    best = {name: max(by_lr.items(), key=lambda item: item[1]) for name, by_lr in mean.items()}
    result = dict(
        benchmark="pretrain_then_finetune", dataset="synthetic (8 motion classes)",
        pretrain=dict(recipe="synthetic", given_weights=bool(args.pretrained), steps=pre["step"],
                      epochs=None if args.pretrained else pre_config["epochs"],
                      videos=pre_config["data"]["synthetic"]["num_train_per_class"] * 8,
                      mask_type=pre_config["mask_type"], mask_ratio=pre_config["mask_ratio"],
                      seconds=round(pretrain_seconds, 1),
                      epoch_losses=[round(r["train_loss"], 5) for r in pre["history"]]),
        finetune=dict(recipe="synthetic", labeled_videos=args.labeled_per_class * 8,
                      epochs=args.finetune_epochs, layer_decay=args.layer_decay, **results),
        mean_val_top1=mean,
        best=dict((name, dict(lr=float(lr), mean_val_top1=top1)) for name, (lr, top1) in best.items()),
        gain_top1=best["from_pretrained"][1] - best["from_scratch"][1])
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print("\n| start | base lr | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean |")
    print("|---" * (len(args.seeds) + 3) + "|")
    for name, by_lr in results.items():
        for lr, rows in by_lr.items():
            print(f"| {name.replace('_', ' ')} | {lr} | "
                  + " | ".join(f"{r['val_top1']:.3f}" for r in rows) + f" | {mean[name][lr]:.3f} |")
    print(f"\nbest mean: from pretrained {best['from_pretrained'][1]:.3f} (lr {best['from_pretrained'][0]}), "
          f"from scratch {best['from_scratch'][1]:.3f} (lr {best['from_scratch'][0]})")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

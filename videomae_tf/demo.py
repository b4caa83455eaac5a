"""The end-to-end demo (``make demo``): synthetic data -> masked pretraining ->
reconstruction picture -> fine-tune -> multi-view test -> SavedModel -> prediction, on a
CPU in about four minutes.

    python -m videomae_tf.demo --output demo_output [--from-scratch]

1. renders the embedded synthetic motion dataset (8 classes, decidable only from motion);
2. pretrains a tiny VideoMAE masked autoencoder on the training videos, labels unused
   (``training.pretrain``, the ``synthetic`` pretraining recipe), and writes its
   reconstruction of a validation video (PNG grid and GIF: original, masked input,
   reconstruction); skipped with ``--from-scratch``;
3. fine-tunes a tiny VideoMAE classifier from the pretrained encoder (or from scratch)
   with ``training.finetune`` (the ``synthetic`` recipe with the demo's settings on top);
4. evaluates it with multi-view testing (per-view softmax, then the mean per video) and
   writes metrics, score dumps and a confusion-matrix PNG;
5. exports a SavedModel and checks that it gives the same logits;
6. predicts one validation video with the exported model.

The last line printed is ``validation top-1: 0.xx`` (multi-view, two decimals).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__all__ = ["DEMO_VIEWS", "demo_config", "demo_pretrain_config", "main", "run_demo"]

#: Test views of the multi-view evaluation.
DEMO_VIEWS = dict(num_clips=2, num_crops=3)


def _step(message: str) -> float:
    print(f"\n== {message}", flush=True)
    return time.time()


def _done(started: float) -> None:
    print(f"   ({time.time() - started:.1f} s)", flush=True)


def _with_epochs(config: dict, epochs: int | None) -> dict:
    if epochs is not None:
        config["epochs"] = epochs
        config["warmup_epochs"] = min(config["warmup_epochs"], epochs - 1)
    return config


def demo_pretrain_config(output: Path, paths: dict, epochs: int | None = None,
                         quiet: bool = False) -> dict:
    """The ``pretrain`` config of the demo: the ``synthetic`` pretraining recipe (the
    fine-tuning recipe's tiny encoder, random mask 0.75) on our training list."""
    from videomae_tf.config import get_pretrain_config, merge

    config = merge(get_pretrain_config("synthetic"), dict(
        output_dir=str(output / "pretrain"), resume=False, progress=not quiet,
        data=dict(train=str(paths["train"]), root=str(paths["root"]), synthetic=None)))
    return _with_epochs(config, epochs)


def demo_config(output: Path, paths: dict, epochs: int | None = None, quiet: bool = False,
                init: str | None = None) -> dict:
    """The ``finetune`` config of the demo: the ``synthetic`` recipe (a tiny ViT with 4x4x4
    tubelets that learns the motion classes in about 7 epochs on 2 CPU cores) on our lists,
    starting from ``init`` (pretrained weights) or from scratch."""
    from videomae_tf.config import get_recipe, merge

    config = merge(get_recipe("synthetic"), dict(
        output_dir=str(output / "finetune"), resume=False, progress=not quiet, init=init,
        data=dict(train=str(paths["train"]), val=str(paths["val"]), root=str(paths["root"]),
                  synthetic=None)))
    return _with_epochs(config, epochs)


def _pretrain_and_picture(output: Path, paths: dict, video: str, epochs: int | None,
                          quiet: bool) -> tuple:
    """Pretrain the demo's masked autoencoder; returns (its weights file, the picture info)."""
    from videomae_tf.training.pretrain import pretrain
    from videomae_tf.visualize import visualize

    config = demo_pretrain_config(output, paths, epochs, quiet)
    shutil.rmtree(config["output_dir"], ignore_errors=True)  # a rerun starts afresh
    run = pretrain(config)
    losses = [row["train_loss"] for row in run["history"]]
    shown = sorted({round(i * (len(losses) - 1) / 5) for i in range(6)})
    print(f"   {run['step']} steps, mask ratio {config['mask_ratio']}; reconstruction loss "
          f"(epoch: loss) " + ", ".join(f"{i + 1}: {losses[i]:.4f}" for i in shown))
    picture = visualize(video, run["weights"], output / "reconstruction",
                        mask_ratio=config["mask_ratio"], mask_type=config["mask_type"],
                        sampling_rate=config["data"]["sampling_rate"], scale=4)
    print(f"   reconstruction of {Path(video).name} ({picture['num_masked']} of "
          f"{picture['num_tokens']} tokens hidden, loss {picture['loss']:.4f}): "
          f"{picture['png']}, {Path(picture['gif']).name}")
    return run["weights"], picture


def run_demo(output, *, epochs: int | None = None, pretrain: bool = True,
             pretrain_epochs: int | None = None, train_per_class: int | None = None,
             val_per_class: int | None = None, quiet: bool = False) -> dict:
    """Run the steps; returns {"metrics", "prediction", "weights", "saved_model", "seconds",
    "pretrained" and "reconstruction" (None without ``pretrain``)}."""
    from videomae_tf.data import load_label_map, make_synthetic_dataset, read_annotations
    from videomae_tf.evaluation import (
        TestViews,
        evaluate,
        load_inference_model,
        predict_files,
        views_dataset,
    )
    from videomae_tf.export import export_saved_model
    from videomae_tf.models import load_model
    from videomae_tf.training import finetune

    begin = time.time()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    total = 6 if pretrain else 5
    numbers = iter(range(1, total + 1))

    def step(message):
        return _step(f"{next(numbers)}/{total} {message}")

    t = step("rendering the synthetic motion dataset")
    from videomae_tf.training import get_recipe

    sizes = dict(get_recipe("synthetic")["data"]["synthetic"])
    if train_per_class:
        sizes["num_train_per_class"] = train_per_class
    if val_per_class:
        sizes["num_val_per_class"] = val_per_class
    paths = make_synthetic_dataset(output / "data", **sizes)
    names = load_label_map(paths["labels"])
    val_records = read_annotations(paths["val"], root=paths["root"])
    print(f"   {len(read_annotations(paths['train']))} training and {len(val_records)} validation "
          f"videos of {len(names)} classes in {paths['root']}")
    _done(t)

    weights, picture = None, None
    if pretrain:
        t = step("masked pretraining of a tiny VideoMAE on the training videos (labels unused)")
        weights, picture = _pretrain_and_picture(output, paths, val_records[0].path,
                                                 pretrain_epochs, quiet)
        _done(t)
        t = step("fine-tuning a classifier from the pretrained encoder")
    else:
        t = step("fine-tuning a tiny VideoMAE classifier from scratch")
    config = demo_config(output, paths, epochs, quiet, init=weights)
    shutil.rmtree(config["output_dir"], ignore_errors=True)  # a rerun starts afresh
    summary = finetune(config)
    print(f"   {summary['step']} steps; last epoch: train top-1 {summary.get('train_top1', 0):.2f}, "
          f"single-view val top-1 {summary.get('val_top1', float('nan')):.2f}")
    _done(t)

    t = step("multi-view evaluation (softmax per view, mean per video)")
    model = load_model(summary["weights"])
    views = TestViews(sampling_rate=config["data"]["sampling_rate"], **DEMO_VIEWS)
    dataset = views_dataset(val_records, model.clip_shape, views, batch_size=24)
    metrics = evaluate(model, dataset, class_names=names, output_dir=output / "evaluation",
                       filenames=[r.path for r in val_records],
                       total_views=len(val_records) * views.per_video, progress=not quiet)
    print(f"   top-1 {metrics['top1']:.3f}, top-5 {metrics['top5']:.3f}, mean class accuracy "
          f"{metrics['mean_class_accuracy']:.3f} over {metrics['num_videos']} videos x "
          f"{views.per_video} views; files in {output / 'evaluation'}")
    _done(t)

    t = step("exporting a SavedModel")
    saved_model = output / "saved_model"
    shutil.rmtree(saved_model, ignore_errors=True)
    export_saved_model(model, saved_model)
    exported = load_inference_model(saved_model)
    probe = next(iter(dataset.take(1)))["video"].numpy()
    diff = float(abs(exported(probe) - model.predict_on_batch(probe)).max())
    print(f"   {saved_model}: reloaded, max |logit difference| {diff:.1e}")
    _done(t)

    t = step("predicting one video with the exported model")
    video = val_records[0].path
    result = predict_files(exported, [video], names, views=views, topk=3, progress=False)[0]
    print(f"   {Path(video).name} (true class: {names[val_records[0].label]})")
    for rank, top in enumerate(result["top"], 1):
        print(f"     {rank}. {top['name']:<28} {top['probability']:.3f}")
    _done(t)

    seconds = time.time() - begin
    print(f"\ndemo finished in {seconds:.0f} s; outputs in {output}")
    return dict(metrics=metrics, prediction=result, pretrained=weights,
                reconstruction=picture, weights=summary["weights"],
                saved_model=str(saved_model), seconds=seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videomae_tf.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="demo_output", help="folder for everything the demo writes")
    parser.add_argument("--from-scratch", action="store_true",
                        help="skip pretraining: fine-tune from a fresh initialisation")
    parser.add_argument("--pretrain-epochs", type=int,
                        help="pretraining epochs (default: the synthetic pretraining recipe's)")
    parser.add_argument("--epochs", type=int, help="fine-tuning epochs (default: the synthetic recipe's)")
    parser.add_argument("--train-per-class", type=int, help="training videos per class")
    parser.add_argument("--val-per-class", type=int, help="validation videos per class")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and C++ log lines")
    args = parser.parse_args(argv)
    from videomae_tf.startup import quiet_start

    quiet_start(verbose=args.verbose)
    result = run_demo(args.output, epochs=args.epochs, pretrain=not args.from_scratch,
                      pretrain_epochs=args.pretrain_epochs, train_per_class=args.train_per_class,
                      val_per_class=args.val_per_class, quiet=args.quiet)
    print(f"validation top-1: {result['metrics']['top1']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

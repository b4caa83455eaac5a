"""The ``videomae-tf`` command: pretrain, fine-tune, evaluate, predict, export, visualize.

    videomae-tf finetune --recipe k400 --set data.train=train.txt --output runs/k400
    videomae-tf evaluate --weights model.weights.h5 --list val.txt --labels kinetics400
    videomae-tf predict clip.mp4 --weights model.weights.h5 --labels kinetics400
    videomae-tf export --weights model.weights.h5 --output saved_model/

Each subcommand is a pair ``add_<name>_arguments(parser)`` / ``run_<name>(args)``
registered in ``COMMANDS``. ``main(argv)`` returns the exit code: 0 success, 1 a failure
while running, 2 bad input (a missing file, a wrong shape, an unknown option).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["COMMANDS", "build_parser", "main"]

PROG = "videomae-tf"


class UsageError(ValueError):
    """Bad input from the user: reported without a traceback, exit code 2."""


# ------------------------------------------------------------------------- shared helpers

def _existing(path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} not found: {path}")
    return path


def _class_names(labels, num_classes: int | None, model_names=None):
    """Class names from --labels (dataset name or file), else the model's own, else None."""
    if labels is None:
        return list(model_names) if model_names else None
    from videomae_tf.data.annotations import load_label_map

    try:
        names = load_label_map(labels)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if num_classes and len(names) != num_classes:
        raise UsageError(f"--labels {labels} has {len(names)} classes but the model has "
                         f"{num_classes}")
    return names


def _load_model(path):
    from videomae_tf.evaluation import load_inference_model

    _existing(path, "model")
    return load_inference_model(path)


def _add_view_arguments(parser, clips: int = 5, crops: int = 3):
    g = parser.add_argument_group("test views (SPEC 8: K400 uses 5 clips x 3 crops)")
    g.add_argument("--num-clips", type=int, default=clips, help="temporal clips per video")
    g.add_argument("--num-crops", type=int, default=crops, help="spatial crops per clip (1-3)")
    g.add_argument("--sampling-rate", type=int, default=4, help="take every n-th frame")
    g.add_argument("--short-side", type=int, default=None,
                   help="resize the short side to this before cropping (default: crop size)")
    g.add_argument("--sampler", choices=("dense", "segment"), default="dense",
                   help="dense (K400) or segment (SSV2) clip sampling")
    g.add_argument("--batch-size", type=int, default=8, help="views per forward pass")
    g.add_argument("--backend", default="auto", help="video decoder: auto, decord, pyav, opencv")


def _views(args):
    from videomae_tf.evaluation import TestViews

    for name in ("num_clips", "num_crops", "sampling_rate", "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    return TestViews(num_clips=args.num_clips, num_crops=args.num_crops,
                     sampling_rate=args.sampling_rate, short_side=args.short_side,
                     sampler=args.sampler)


# ------------------------------------------------------------------------------ finetune

def _read_config_file(path) -> dict:
    path = _existing(path, "config file")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise UsageError(f"{path} is YAML but PyYAML is not installed: "
                             "`pip install pyyaml` or use a JSON config") from None
        config = yaml.safe_load(text)
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{path} must hold a mapping of options, got {type(config).__name__}")
    return config


def _parse_override(text: str):
    """'a.b=3' -> (['a', 'b'], 3); values are JSON when they parse, else strings."""
    if "=" not in text:
        raise UsageError(f"--set expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    return key.strip().split("."), value


def _set_path(config: dict, keys, value) -> None:
    node = config
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise UsageError(f"cannot set {'.'.join(keys)}: {key} is not a section")
        node = child
    node[keys[-1]] = value


#: Dedicated flags and the config key each one overrides.
FINETUNE_FLAGS = {
    "output": "output_dir",
    "init": "init",
    "resume": "resume",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "train_list": "data.train",
    "val_list": "data.val",
    "data_root": "data.root",
}


def _apply_flags(config: dict, args, flags: dict) -> dict:
    """A plain copy of ``config`` with the dedicated flags, then every ``--set``, on top."""
    config = json.loads(json.dumps(config))
    for dest, key in flags.items():
        value = getattr(args, dest, None)
        if value is not None:
            _set_path(config, key.split("."), value)
    for text in args.set or []:
        _set_path(config, *_parse_override(text))
    return config


def finetune_config(args) -> dict:
    """The config ``finetune`` gets: recipe or file, then the flags, then ``--set``."""
    from videomae_tf import training

    if args.recipe and args.config:
        raise UsageError("give --recipe or --config, not both")
    if args.config:
        config = _read_config_file(args.config)
    elif args.recipe:
        try:
            config = training.get_recipe(args.recipe)
        except (KeyError, ValueError) as e:
            raise UsageError(str(e)) from None
    else:
        raise UsageError("finetune needs --recipe NAME or --config FILE")
    return _apply_flags(config, args, FINETUNE_FLAGS)


def _add_run_arguments(p, recipe_help, batch_help, list_help):
    """The flags every training command has: recipe or config, run folder, schedule, data."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--recipe", help=recipe_help)
    src.add_argument("--config", help="your own config, JSON (or YAML with PyYAML)")
    p.add_argument("--output", help="run directory: checkpoints, logs, final weights")
    p.add_argument("--resume", help="'auto' (latest checkpoint in the run directory) or a path")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help=batch_help)
    p.add_argument("--lr", type=float, help="base learning rate (scaled by batch / 256)")
    p.add_argument("--train-list", help=list_help)
    p.add_argument("--data-root", help="folder relative paths in the lists start from")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any config key, dotted for sections (repeatable)")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config and exit without training")


def add_finetune_arguments(p):
    _add_run_arguments(p, "a built-in recipe: k400, ssv2, ucf101 (SPEC 10)",
                       "per-replica batch size", "training annotation list")
    p.add_argument("--init", help="pretrained weights to start from (a pretraining model)")
    p.add_argument("--val-list", help="validation annotation list")


def run_finetune(args) -> int:
    config = finetune_config(args)
    if args.print_config:
        print(json.dumps(config, indent=2, sort_keys=True))
        return 0
    from videomae_tf.training import finetune

    _print_summary(finetune(config))
    return 0


def _print_summary(result: dict) -> None:
    """A training summary's plain values as JSON (None shows as null: e.g. the weights of
    a worker that is not the chief)."""
    shown = {k: v for k, v in result.items() if v is None or isinstance(v, (int, float, str))}
    print(json.dumps(shown, indent=2, sort_keys=True, default=str))


# ------------------------------------------------------------------------------ evaluate

def add_evaluate_arguments(p):
    p.add_argument("--weights", required=True,
                   help="model: .weights.h5 (with its .json sidecar), .keras or SavedModel dir")
    p.add_argument("--list", required=True, dest="annotations", help="annotation list to test on")
    p.add_argument("--root", help="folder the list's relative paths start from "
                                  "(default: the list's folder)")
    p.add_argument("--labels", help="class names: a dataset (kinetics400, ssv2, ...) or a file")
    p.add_argument("--output", default="evaluation",
                   help="where metrics.json, scores.pkl, predictions.csv, class_report.csv "
                        "and confusion_matrix.png go (default: ./evaluation)")
    p.add_argument("--aggregation", choices=("softmax_mean", "logit_mean"), default="softmax_mean",
                   help="per-view softmax then mean (official) or mean of logits")
    p.add_argument("--ma52", action="store_true", help="also report the MA-52 F1_mean")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first video that cannot be read (default: skip and report)")
    _add_view_arguments(p)


def run_evaluate(args) -> int:
    from videomae_tf.data.annotations import check_files, read_annotations
    from videomae_tf.data.pipeline import DecodeErrorLog
    from videomae_tf.evaluation import evaluate, views_dataset

    views = _views(args)
    annotations = _existing(args.annotations, "annotation list")
    root = args.root if args.root is not None else annotations.parent
    records = read_annotations(annotations, root=root)
    if not records:
        raise UsageError(f"{annotations} lists no videos")
    if any(r.label is None for r in records):
        raise UsageError(f"{annotations} has unlabelled entries: evaluation needs labels")
    missing = check_files(records, raise_error=args.strict, source=str(annotations))
    if missing:
        print(f"warning: {len(missing)} of {len(records)} listed videos do not exist and will "
              f"be skipped (first: {missing[0]})", file=sys.stderr)
    model = _load_model(args.weights)
    names = _class_names(args.labels, model.num_classes, model.class_names)
    errors = DecodeErrorLog()
    dataset = views_dataset(records, model.clip_shape, views, batch_size=args.batch_size,
                                on_error="raise" if args.strict else "skip", error_log=errors,
                                backend=args.backend)
    metrics = evaluate(model, dataset, class_names=names, aggregation=args.aggregation,
                       ma52=args.ma52, output_dir=args.output,
                       filenames=[r.path for r in records],
                       total_views=len(records) * views.per_video)
    metrics["num_failed_videos"] = len(errors)
    _print_metrics(metrics, len(records), args.output)
    return 0


def _print_metrics(metrics: dict, num_listed: int, output) -> None:
    print(f"videos: {metrics['num_videos']} of {num_listed} "
          f"({metrics['num_views']} views, aggregation {metrics['aggregation']})")
    for key in ("top1", "top5", "mean_class_accuracy", "macro_f1", "f1_mean"):
        if key in metrics:
            print(f"{key}: {metrics[key]:.4f}")
    print(f"results written to {output}/")


# ------------------------------------------------------------------------------- predict

def add_predict_arguments(p):
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    p.add_argument("--weights", required=True,
                   help="model: .weights.h5 (with its .json sidecar), .keras or SavedModel dir")
    p.add_argument("--labels", help="class names: a dataset (kinetics400, ssv2, ...) or a file "
                                    "(default: names stored with the model, else class ids)")
    p.add_argument("--top-k", type=int, default=5, help="how many classes to show")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_view_arguments(p)


def format_predictions(results) -> str:
    """The table ``predict`` prints: the path, then one ``  rank. name  probability`` line each."""
    lines = []
    for result in results:
        lines.append(result["path"])
        if result["top"] is None:
            lines.append(f"  error: {result['error']}")
            continue
        width = max(len(t["name"]) for t in result["top"])
        for rank, t in enumerate(result["top"], 1):
            lines.append(f"  {rank}. {t['name']:<{width}}  {t['probability']:.4f}")
    return "\n".join(lines)


def run_predict(args) -> int:
    from videomae_tf.evaluation import predict_files

    views = _views(args)
    if args.top_k < 1:
        raise UsageError("--top-k must be at least 1")
    for video in args.videos:
        if not os.path.isfile(video):
            raise UsageError(f"video not found: {video}")
    model = _load_model(args.weights)
    names = _class_names(args.labels, model.num_classes, model.class_names)
    results = predict_files(model, args.videos, names, views=views, topk=args.top_k,
                            batch_size=args.batch_size, on_error="skip", backend=args.backend)
    print(json.dumps(results, indent=2) if args.json else format_predictions(results))
    return 0 if all(r["top"] is not None for r in results) else 1


# -------------------------------------------------------------------------------- export

def add_export_arguments(p):
    p.add_argument("--weights", required=True, help="model: .weights.h5 (with its sidecar) or .keras")
    p.add_argument("--output", required=True, help="SavedModel directory to write")
    p.add_argument("--no-verify", action="store_true",
                   help="skip reloading the export and comparing its outputs")


def verify_export(model, directory, atol: float = 1e-4) -> float:
    """Reload a SavedModel and compare it with ``model`` on a random clip; returns max |diff|."""
    import numpy as np
    import tensorflow as tf

    from videomae_tf.export import model_clip_shape

    clip = np.random.default_rng(0).normal(size=(2,) + tuple(model_clip_shape(model)))
    clip = clip.astype(np.float32)
    reloaded = tf.saved_model.load(str(directory))
    diff = float(np.max(np.abs(reloaded.serve(clip).numpy() - np.asarray(model(clip, training=False)))))
    if not diff <= atol:
        raise RuntimeError(f"the exported model differs from the original by {diff:.2e} "
                           f"(tolerance {atol:.0e})")
    return diff


def run_export(args) -> int:
    from videomae_tf.export import export_saved_model
    from videomae_tf.models import VideoMAEClassifier, VideoMAEPretrainer, load_model

    weights = _existing(args.weights, "model")
    if weights.is_dir():
        raise UsageError(f"{weights} is a directory: export takes a .weights.h5 or .keras file")
    model = load_model(weights)
    if not isinstance(model, (VideoMAEClassifier, VideoMAEPretrainer)):
        raise UsageError(f"{weights} holds a {type(model).__name__}, not a VideoMAE model")
    out = Path(args.output)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not empty; choose a new directory")
    export_saved_model(model, out)
    message = f"SavedModel written to {out}"
    if not args.no_verify and isinstance(model, VideoMAEClassifier):
        message += f" (reloaded; max |logit difference| {verify_export(model, out):.1e})"
    print(message)
    return 0


# ------------------------------------------------------------------------------ pretrain

#: Dedicated flags of ``pretrain`` and the config key each one overrides.
PRETRAIN_FLAGS = {
    "output": "output_dir",
    "resume": "resume",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "mask_ratio": "mask_ratio",
    "decoder_mask": "decoder_mask_type",
    "train_list": "data.train",
    "data_root": "data.root",
}


def add_pretrain_arguments(p):
    from videomae_tf.training.pretrain import PRETRAIN_CONFIGS

    _add_run_arguments(p, f"a built-in recipe: {', '.join(PRETRAIN_CONFIGS)} (default: synthetic)",
                       "per-replica batch size (views)",
                       "training annotation list (labels are ignored)")
    p.add_argument("--mask-ratio", type=float, help="encoder tube mask ratio (official 0.9)")
    p.add_argument("--decoder-mask", help="'running_cell' (VideoMAE V2) or 'none' (V1)")


def pretrain_config(args) -> dict:
    """The config ``pretrain`` gets: recipe or file, then the flags, then ``--set``."""
    from videomae_tf.training.pretrain import get_pretrain_config

    if args.config:
        config = _read_config_file(args.config)
    else:
        try:
            config = get_pretrain_config(args.recipe or "synthetic")
        except (KeyError, ValueError) as e:
            raise UsageError(str(e)) from None
    if (args.decoder_mask or "").lower() == "none":
        args.decoder_mask = None
        config["decoder_mask_type"] = None
    return _apply_flags(config, args, PRETRAIN_FLAGS)


def run_pretrain(args) -> int:
    config = pretrain_config(args)
    if args.print_config:
        print(json.dumps(config, indent=2, sort_keys=True))
        return 0
    from videomae_tf.training.pretrain import pretrain

    _print_summary(pretrain(config))
    return 0


# ----------------------------------------------------------------------------- visualize

def add_visualize_arguments(p):
    p.add_argument("video", help="the video to reconstruct")
    p.add_argument("--weights", required=True,
                   help="pretraining model: .weights.h5 (with its .json sidecar) or .keras")
    p.add_argument("--output", required=True, help="folder for the PNG grid and the GIF")
    p.add_argument("--mask-ratio", type=float, default=0.9, help="encoder mask ratio (0.9)")
    p.add_argument("--mask-type", default="tube", choices=("tube", "random"))
    p.add_argument("--seed", type=int, default=0, help="seed of the mask")
    p.add_argument("--sampling-rate", type=int, default=4, help="take every n-th frame (4)")
    p.add_argument("--start", type=int, help="first frame (default: the centred window)")
    p.add_argument("--fps", type=float, default=4.0, help="GIF frames per second")
    p.add_argument("--scale", type=int, default=None,
                   help="enlarge every frame n x (nearest; default: to at least 96 pixels high)")
    p.add_argument("--error", action="store_true", help="add a row with the reconstruction error")
    p.add_argument("--backend", default="auto", help="video decoder: auto, decord, pyav, opencv")


def run_visualize(args) -> int:
    from videomae_tf.visualize import visualize

    _existing(args.video, "video")
    _existing(args.weights, "weights")
    result = visualize(args.video, args.weights, args.output, mask_ratio=args.mask_ratio,
                       mask_type=args.mask_type, seed=args.seed, sampling_rate=args.sampling_rate,
                       start=args.start, fps=args.fps, scale=args.scale, show_error=args.error,
                       backend=args.backend)
    print(json.dumps(result, indent=2))
    return 0


# ------------------------------------------------------------------------------ registry

#: name -> (help, add_arguments, run).
COMMANDS = {
    "pretrain": ("masked-autoencoder pretraining (VideoMAE V1 tube / V2 dual masking)",
                 add_pretrain_arguments, run_pretrain),
    "finetune": ("fine-tune a classifier from a recipe or a config", add_finetune_arguments,
                 run_finetune),
    "evaluate": ("multi-view evaluation on an annotation list: metrics, dumps, confusion PNG",
                 add_evaluate_arguments, run_evaluate),
    "predict": ("top-k classes of video files (multi-view)", add_predict_arguments, run_predict),
    "export": ("export a model as a TensorFlow SavedModel", add_export_arguments, run_export),
    "visualize": ("masked-reconstruction picture (PNG grid) and GIF of a video",
                  add_visualize_arguments, run_visualize),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="VideoMAE in Keras 3 / TensorFlow.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and C++ log lines (hidden by default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    from videomae_tf.startup import quiet_start

    # before the parser: building it imports the recipes, and with them TensorFlow
    quiet_start(verbose="--verbose" in (sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help or an argparse error
        return int(e.code or 0)
    code = _run(args)
    if args.command in ("finetune", "pretrain") and _in_a_cluster():
        # a worker's runtime threads can outlive a failed (or finished) collective run and
        # keep the interpreter from exiting: leave now, output flushed
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _in_a_cluster() -> bool:
    from videomae_tf.training.distribute import cluster_workers

    try:
        return cluster_workers() > 1
    except ValueError:
        return False


def _run(args) -> int:
    """Run the parsed command; failures become one line on stderr and an exit code."""
    run = COMMANDS[args.command][2]
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - turn every failure into a message + exit code
        if args.debug:
            raise
        usage = isinstance(e, (UsageError, FileNotFoundError, ValueError, TypeError))
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        if not usage:
            print(f"({type(e).__name__}; rerun with --debug for the traceback)", file=sys.stderr)
        return 2 if usage else 1


if __name__ == "__main__":
    sys.exit(main())

"""``videomae-tf features`` (per-video embeddings) and ``linear-probe`` (a classifier on
frozen features)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from videomae_tf.cli.common import (WEIGHTS_HELP, UsageError, add_view_arguments, existing,
                                    load_videomae_model, videos_in_folder, views)


def add_features_arguments(p: argparse.ArgumentParser) -> None:
    from videomae_tf.tad import TAD_PRESETS

    p.add_argument("videos", nargs="+", metavar="VIDEOS",
                   help="video files, folders of videos, or one annotation list (.txt/.csv)")
    p.add_argument("--weights", required=True, help="classifier or pretraining " + WEIGHTS_HELP)
    p.add_argument("--output", required=True,
                   help="a folder (one .npy per video) or a .h5 file (one group per video)")
    p.add_argument("--root", help="folder the list's relative paths start from and output names "
                                  "are relative to (default: the list's or the folder's own)")
    p.add_argument("--per-clip", action="store_true",
                   help="also keep each view's features (<name>.clips.npy / clips)")
    p.add_argument("--token-map", action="store_true",
                   help="also keep each view's token map (views, T', H', W', D)")
    add_view_arguments(p, clips=1, crops=1)
    tad = p.add_argument_group(
        "temporal action detection: every window's features, one (windows, D) array per video, "
        "as VideoMAE V2's extract_tad_feature.py makes them")
    tad.add_argument("--tad", choices=tuple(TAD_PRESETS),
                     help="the official windows: 16 frames every 4 (thumos14) or 16 "
                          "(fineaction), resized to 224x224, no crop")
    tad.add_argument("--windows", type=int, metavar="FRAMES",
                     help="TAD windows of FRAMES consecutive frames (default 16)")
    tad.add_argument("--window-stride", type=int, metavar="FRAMES",
                     help="frames between window starts (default 4)")
    tad.add_argument("--resize", metavar="HxW", help="every frame resized to HxW (default 224x224)")
    tad.add_argument("--imagenet-normalize", action="store_true",
                     help="normalise by the ImageNet mean/std (the official TAD script does not)")


def _tad_windows(args: argparse.Namespace):
    """The TAD windows the flags ask for (a preset, then the flags on top), or None."""
    from videomae_tf.tad import TAD_PRESETS, TadWindows

    if not (args.tad or args.imagenet_normalize
            or any(v is not None for v in (args.windows, args.window_stride, args.resize))):
        return None
    if args.per_clip or args.token_map:
        raise UsageError("--per-clip and --token-map are per-view outputs; TAD windows give one "
                         "(windows, D) array per video")
    base = TAD_PRESETS[args.tad] if args.tad else TadWindows()
    return TadWindows(length=base.length if args.windows is None else args.windows,
                      stride=base.stride if args.window_stride is None else args.window_stride,
                      size=base.size if args.resize is None else args.resize,
                      normalize=args.imagenet_normalize)


def _feature_inputs(arguments: list[str], root: str | None):
    """(videos or a list file, root) from the command line's VIDEOS."""
    paths = [existing(a, "video, folder or list") for a in arguments]
    lists = [p for p in paths if p.is_file() and p.suffix in (".txt", ".csv")]
    if lists:
        if len(paths) > 1:
            raise UsageError("give one annotation list, or video files and folders, not both")
        return lists[0], root if root is not None else lists[0].parent
    videos = []
    for path in paths:
        if path.is_dir():
            videos += videos_in_folder(path)
        else:
            videos.append(str(path))
    if root is None and len(paths) == 1 and paths[0].is_dir():
        root = paths[0]
    return videos, root


def run_features(args: argparse.Namespace) -> int:
    from videomae_tf.features import extract_features

    test_views = views(args)
    windows = _tad_windows(args)
    videos, root = _feature_inputs(args.videos, args.root)
    model = load_videomae_model(args.weights, args.precision, backbone=True)
    report = extract_features(model, videos, args.output, root=root, views=test_views,
                              per_clip=args.per_clip, token_map=args.token_map,
                              windows=windows, batch_size=args.batch_size,
                              backend=args.backend)
    print(report.summary())
    if report.failed:
        _write_failures(report.failed, Path(args.output))
    return 1 if report.failed and not (report.written or report.skipped) else 0


def _write_failures(failed: dict[str, str], output: Path) -> None:
    """``failed_videos.csv`` in the features folder (or beside the .h5 file)."""
    from videomae_tf.data.pipeline import failures_csv
    from videomae_tf.files import write_text_atomic

    folder = output.parent if output.suffix in (".h5", ".hdf5") else output
    path = folder / (f"{output.stem}.failed_videos.csv" if folder != output
                     else "failed_videos.csv")
    write_text_atomic(path, failures_csv(failed))
    print(f"failed videos listed in {path}")


def add_linear_probe_arguments(p: argparse.ArgumentParser) -> None:
    from videomae_tf.config.recipes import PROBE_DEFAULTS as D

    p.add_argument("--features", required=True,
                   help="features folder or .h5 written by `videomae-tf features`")
    p.add_argument("--train-list", required=True, help="labelled annotation list to train on")
    p.add_argument("--val-list", help="labelled annotation list to report top-1 on")
    p.add_argument("--root", help="the root given to `features` (default: each list's folder)")
    p.add_argument("--output", default="linear_probe",
                   help="folder for probe.keras and metrics.json (default ./linear_probe)")
    p.add_argument("--epochs", type=int, default=D["epochs"], help=f"({D['epochs']}, MAE)")
    p.add_argument("--batch-size", type=int, default=D["batch_size"], help=f"({D['batch_size']})")
    p.add_argument("--lr", type=float, default=D["lr"],
                   help=f"base learning rate, scaled by batch / 256 ({D['lr']}, MAE)")
    p.add_argument("--warmup-epochs", type=int, default=D["warmup_epochs"],
                   help=f"({D['warmup_epochs']})")
    p.add_argument("--seed", type=int, default=D["seed"])


def run_linear_probe(args: argparse.Namespace) -> int:
    from videomae_tf.training.linear_probe import linear_probe_from_lists

    existing(args.features, "features")
    for path in filter(None, (args.train_list, args.val_list)):
        existing(path, "annotation list")
    if args.epochs < 1 or args.batch_size < 1 or not args.lr > 0 or args.warmup_epochs < 0:
        raise UsageError("--epochs and --batch-size must be at least 1, --lr positive and "
                         "--warmup-epochs at least 0")
    try:
        metrics = linear_probe_from_lists(
            args.features, args.train_list, args.val_list, root=args.root,
            output_dir=args.output, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, warmup_epochs=args.warmup_epochs, seed=args.seed)
    except KeyError as e:  # features missing for a listed video
        raise UsageError(str(e.args[0])) from None
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}
    print(json.dumps(shown, indent=2, sort_keys=True))
    print(f"probe written to {os.path.join(args.output, 'probe.keras')}")
    return 0


COMMANDS = {
    "features": ("per-video embeddings of a folder, files or a list (.npy or .h5, resumable)",
                 add_features_arguments, run_features),
    "linear-probe": ("train a linear classifier on frozen features and report top-1",
                     add_linear_probe_arguments, run_linear_probe),
}

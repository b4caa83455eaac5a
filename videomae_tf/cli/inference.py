"""``videomae-tf evaluate`` (metrics on a labelled list) and ``predict`` (top-k of video
files, or with ``--timeline`` window by window over long videos)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from videomae_tf.cli.common import (WEIGHTS_HELP, UsageError, add_runtime_argument,
                                    add_view_arguments, class_names, existing, load_inference,
                                    views)


def add_evaluate_arguments(p):
    p.add_argument("--weights", required=True, help=WEIGHTS_HELP + " or a SavedModel folder")
    p.add_argument("--list", required=True, dest="annotations", help="annotation list to test on")
    p.add_argument("--root", help="folder the list's relative paths start from "
                                  "(default: the list's folder)")
    p.add_argument("--labels", help="class names: a dataset (kinetics400, ssv2, ...) or a file")
    p.add_argument("--output", default="evaluation",
                   help="where metrics.json, scores.pkl, predictions.csv, class_report.csv "
                        "and confusion_matrix.png go (default: ./evaluation)")
    p.add_argument("--aggregation", choices=("softmax_mean", "logit_mean"), default="softmax_mean",
                   help="per-view softmax then mean (official) or mean of logits")
    p.add_argument("--ma52", action="store_true",
                   help="MA-52: also report F1_mean and write submission.csv (id,coarse,fine)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first video that cannot be read (default: skip and report)")
    add_view_arguments(p)
    add_runtime_argument(p)


def run_evaluate(args) -> int:
    from videomae_tf.data.annotations import check_files, read_annotations
    from videomae_tf.data.pipeline import DecodeErrorLog
    from videomae_tf.evaluation import evaluate, predict_videos, views_dataset, write_outputs

    test_views = views(args)
    annotations = existing(args.annotations, "annotation list")
    root = args.root if args.root is not None else annotations.parent
    records = read_annotations(annotations, root=root)
    if not records:
        raise UsageError(f"{annotations} lists no videos")
    labelled = sum(r.label is not None for r in records)
    if 0 < labelled < len(records):
        raise UsageError(f"{annotations} labels {labelled} of its {len(records)} videos: give "
                         "every video a label (to score) or none (to predict only)")
    missing = check_files(records, raise_error=args.strict, source=str(annotations))
    if missing:
        print(f"warning: {len(missing)} of {len(records)} listed videos do not exist and will "
              f"be skipped (first: {missing[0]})", file=sys.stderr)
    model = load_inference(args.weights, args.precision, args.runtime)
    names = class_names(args.labels, model.num_classes, model.class_names)
    errors = DecodeErrorLog()
    dataset = views_dataset(records, model.clip_shape, test_views, batch_size=args.batch_size,
                                on_error="raise" if args.strict else "skip", error_log=errors,
                                backend=args.backend)
    filenames = [r.path for r in records]
    total_views = len(records) * test_views.per_video
    if labelled:
        metrics = evaluate(model, dataset, class_names=names, aggregation=args.aggregation,
                           ma52=args.ma52, output_dir=args.output, filenames=filenames,
                           total_views=total_views)
        metrics["num_failed_videos"] = len(errors)
        _print_metrics(metrics, len(records), args.output)
    else:  # a test set without labels: scores and predictions only
        scores = predict_videos(model, dataset, aggregation=args.aggregation,
                                total_views=total_views)
        write_outputs(args.output, scores, None, names, filenames)
        print(f"videos: {len(scores)} of {len(records)} (no labels: predictions only)")
        print(f"results written to {args.output}/")
    if args.ma52:
        _write_ma52_submission(Path(args.output))
    return 0


def _write_ma52_submission(output: Path) -> None:
    """submission.csv beside the scores evaluate just wrote."""
    from videomae_tf.evaluation import OUTPUT_FILES
    from videomae_tf.evaluation.dumps import load_scores_and_names
    from videomae_tf.evaluation.submission import submission_ids, write_submission

    scores, names = load_scores_and_names(output / OUTPUT_FILES["scores"])
    if scores.num_classes != 52:
        raise UsageError(f"--ma52 needs a 52-class model, this one scores {scores.num_classes}")
    path = write_submission(output / "submission.csv", submission_ids(names, scores.video_ids),
                            scores.predictions)
    print(f"MA-52 submission: {path}")


def _print_metrics(metrics: dict, num_listed: int, output) -> None:
    print(f"videos: {metrics['num_videos']} of {num_listed} "
          f"({metrics['num_views']} views, aggregation {metrics['aggregation']})")
    for key in ("top1", "top5", "mean_class_accuracy", "macro_f1", "f1_mean"):
        if key in metrics:
            print(f"{key}: {metrics[key]:.4f}")
    print(f"results written to {output}/")


def add_ensemble_arguments(p):
    p.add_argument("scores", nargs="+", help="scores.pkl files written by evaluate (one per "
                                             "model or modality, same videos)")
    p.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="one weight per file (default: equal); normalised to sum to 1")
    p.add_argument("--output", default="ensemble",
                   help="where the combined scores, predictions and metrics go")
    p.add_argument("--labels", help="class names: a dataset (kinetics400, ma52, ...) or a file")
    p.add_argument("--ma52", action="store_true",
                   help="MA-52: also report F1_mean and write submission.csv (id,coarse,fine)")


def run_ensemble(args) -> int:
    from videomae_tf.evaluation import score_videos, write_outputs
    from videomae_tf.evaluation.submission import ensemble

    for path in args.scores:
        existing(path, "scores file")
    scores, filenames = ensemble(args.scores, args.weights)
    names = class_names(args.labels, scores.num_classes)
    metrics = None
    if scores.labels is not None:
        metrics = score_videos(scores, names, ma52=args.ma52)
        metrics["aggregation"] = f"weighted mean of {len(args.scores)} score files"
    by_id = None
    if all(filenames):  # write_outputs looks names up by video id
        by_id = [""] * (int(scores.video_ids.max()) + 1)
        for vid, name in zip(scores.video_ids.tolist(), filenames):
            by_id[int(vid)] = name
    write_outputs(args.output, scores, metrics, names, by_id)
    if metrics:
        _print_metrics(metrics, len(scores), args.output)
    else:
        print(f"videos: {len(scores)} (no common labels: predictions only)")
        print(f"results written to {args.output}/")
    if args.ma52:
        _write_ma52_submission(Path(args.output))
    return 0


def add_predict_arguments(p):
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    p.add_argument("--weights", required=True, help=WEIGHTS_HELP + " or a SavedModel folder")
    p.add_argument("--labels", help="class names: a dataset (kinetics400, ssv2, ...) or a file "
                                    "(default: names stored with the model, else class ids)")
    p.add_argument("--top-k", type=int, default=5, help="how many classes to show")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    g = p.add_argument_group("long videos")
    g.add_argument("--timeline", action="store_true",
                   help="slide the clip window over the whole video (streamed: memory of one "
                        "clip) and write per-window top-k as CSV and JSON and a PNG timeline")
    g.add_argument("--stride", type=float, default=1.0,
                   help="seconds between window starts (--timeline; default 1)")
    g.add_argument("--output", default="timeline",
                   help="folder for <video>.timeline.{csv,json,png} (--timeline; default "
                        "./timeline)")
    add_view_arguments(p)
    add_runtime_argument(p)


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

    test_views = views(args)
    if args.top_k < 1:
        raise UsageError("--top-k must be at least 1")
    for video in args.videos:
        if not os.path.isfile(video):
            raise UsageError(f"video not found: {video}")
    model = load_inference(args.weights, args.precision, args.runtime)
    names = class_names(args.labels, model.num_classes, model.class_names)
    if args.timeline:
        return _run_timeline(args, model, names)
    results = predict_files(model, args.videos, names, views=test_views, topk=args.top_k,
                            batch_size=args.batch_size, on_error="skip", backend=args.backend)
    print(json.dumps(results, indent=2) if args.json else format_predictions(results))
    return 0 if all(r["top"] is not None for r in results) else 1


def _run_timeline(args, model, names) -> int:
    """``predict --timeline``: one CSV/JSON/PNG triple per video; a video that cannot be
    decoded is reported and the others are still done."""
    from videomae_tf.data.decoders import VideoDecodeError
    from videomae_tf.timeline import predict_timeline, write_timeline

    if not args.stride > 0:
        raise UsageError(f"--stride must be a positive number of seconds, got {args.stride}")
    failed = 0
    for video in args.videos:
        try:
            timeline = predict_timeline(model, video, stride_s=args.stride,
                                        sampling_rate=args.sampling_rate,
                                        short_side=args.short_side, batch_size=args.batch_size,
                                        class_names=names, backend=args.backend)
        except VideoDecodeError as e:
            print(f"{video}\n  error: {e}", file=sys.stderr)
            failed += 1
            continue
        paths = write_timeline(timeline, args.output, k=args.top_k)
        top1 = [row["top"][0]["name"] for row in timeline.rows(1)]
        changes = sum(a != b for a, b in zip(top1, top1[1:]))
        print(f"{video}: {len(top1)} windows every {args.stride:g} s, top-1 changes "
              f"{changes} times -> {paths['csv']}, {paths['png']}")
    return 1 if failed else 0


COMMANDS = {
    "evaluate": ("multi-view evaluation on an annotation list: metrics, dumps, confusion PNG",
                 add_evaluate_arguments, run_evaluate),
    "predict": ("top-k classes of video files (multi-view), or --timeline over long videos",
                add_predict_arguments, run_predict),
    "ensemble": ("weighted mean of several evaluate runs' scores (models, modalities); "
                 "MA-52 submission", add_ensemble_arguments, run_ensemble),
}

"""``videomae-tf crop-persons``: crop micro-action clips to the person in them (docs/numerics.md#ma52).

    videomae-tf crop-persons videos/ --output cropped/
    videomae-tf crop-persons train.txt --output cropped/ --every 4
    videomae-tf crop-persons a.mp4 b.mp4 --output cropped/ --boxes boxes.csv
    videomae-tf crop-persons videos/ --output cropped/ --detector onnx:yolov8n.onnx
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from videomae_tf.cli.common import PROG, UsageError, existing, videos_in_folder


def add_crop_persons_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("videos", nargs="+", metavar="VIDEOS",
                   help="video files, folders of videos, or one annotation list (.txt/.csv)")
    p.add_argument("--output", required=True,
                   help="folder for the cropped clips (<name>.mp4) and crop_report.csv")
    p.add_argument("--boxes", help="person boxes you made instead of a detector: CSV with the "
                                   "header video,frame,x1,y1,x2,y2, or JSON")
    p.add_argument("--detector", default=None,
                   help="hog (default: OpenCV's HOG people detector, Daimler model), hog:inria, "
                        "or onnx:PATH (a YOLOv5/YOLOv8-style ONNX detector)")
    p.add_argument("--every", type=int, default=1,
                   help="run the detector on every n-th frame (1: all frames, as the MAC 2024 solution)")
    p.add_argument("--detect-height", type=int, default=240,
                   help="HOG: downscale frames to this height to detect (240); people shorter "
                        "than 40%% of the frame need more")
    p.add_argument("--onnx-size", type=int, default=640, help="ONNX: square input size (640)")
    p.add_argument("--onnx-layout", default="auto", choices=("auto", "yolov5", "yolov8", "xyxy"),
                   help="ONNX: how to read the output (see OnnxPersonDetector)")
    p.add_argument("--backend", default="auto", help="video decoder: auto, decord, pyav, opencv")
    p.add_argument("--overwrite", action="store_true",
                   help="replace clips in --output that an earlier crop-persons run did not "
                        "write (default: refuse; its own outputs are always replaced)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _crop_inputs(arguments: list[str], output: Path) -> list[str]:
    """The videos of the command line: files, videos under folders (not the output folder's
    own, nor half-written ``.partial.*`` files) or the entries of one annotation list."""
    paths = [existing(a, "video, folder or list") for a in arguments]
    lists = [p for p in paths if p.is_file() and p.suffix.lower() in (".txt", ".csv")]
    if lists:
        if len(paths) > 1:
            raise UsageError("give one annotation list, or video files and folders, not both")
        from videomae_tf.data.annotations import read_annotations

        videos = [r.path for r in read_annotations(lists[0], root=lists[0].parent)]
        if not videos:
            raise UsageError(f"{lists[0]} lists no videos")
        if not any(os.path.exists(v) for v in videos):
            raise UsageError(f"none of the {len(videos)} videos listed in {lists[0]} exist "
                             f"(first: {videos[0]}); paths are relative to the list's folder")
        return videos
    output = output.resolve()
    videos = []
    for path in paths:
        if not path.is_dir():
            videos.append(str(path))
            continue
        videos += videos_in_folder(path, lambda f: not f.name.startswith(".partial.")
                                   and output not in f.resolve().parents)
    return videos


def run_crop_persons(args: argparse.Namespace) -> int:
    from videomae_tf.data.person_crop import REPORT_NAME, crop_persons, detector_from_spec

    if args.every < 1:
        raise UsageError(f"--every must be at least 1, got {args.every}")
    if args.onnx_size < 32:
        raise UsageError(f"--onnx-size must be at least 32, got {args.onnx_size}")
    if args.boxes is not None and args.detector is not None:
        raise UsageError("give --boxes or --detector, not both")
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file, not a folder")
    videos = _crop_inputs(args.videos, output)
    detector = boxes = None
    if args.boxes is not None:
        boxes = existing(args.boxes, "boxes file")
    else:
        try:
            detector = detector_from_spec(args.detector or "hog", height=args.detect_height,
                                          onnx_size=args.onnx_size,
                                          onnx_layout=args.onnx_layout)
        except ValueError as e:
            raise UsageError(str(e)) from None
    rows = crop_persons(videos, output, detector=detector, boxes=boxes, every=args.every,
                        progress=not args.no_progress, backend=args.backend,
                        overwrite=args.overwrite)
    failed = [r for r in rows if r.error]
    for row in failed:
        print(f"{PROG} crop-persons: not cropped: {row.video}: {row.error}", file=sys.stderr)
    found = sum(r.person_found for r in rows)
    without = len(rows) - found - len(failed)
    print(f"{len(rows)} clips: {found} cropped to a person, {without} without a person "
          f"(written uncropped), {len(failed)} failed; report: {output / REPORT_NAME}")
    return 1 if failed and len(failed) == len(rows) else 0


COMMANDS = {
    "crop-persons": (("crop clips to the person in them (the MA-52 person crop: union of the "
                      "person boxes, padded, width/height >= 0.6)"),
                     add_crop_persons_arguments, run_crop_persons),
}

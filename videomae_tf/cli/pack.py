"""``videomae-tf pack``: a dataset as TFRecord shards, read in the graph (issue 25)."""

from __future__ import annotations

import argparse

from videomae_tf.cli.common import class_names, existing


def add_pack_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("list", metavar="LIST", help="annotation list (any format the readers take)")
    p.add_argument("--root", help="folder the list's relative paths start from (default: the "
                                  "list's own)")
    p.add_argument("--output", required=True,
                   help="new folder (or gfile URL: gs://bucket/packed) for the shards and "
                        "index.json; an interrupted pack into it resumes")
    p.add_argument("--shards", type=int, help="number of shards (default: one per 100 videos)")
    p.add_argument("--short-side", type=int, default=320,
                   help="frames stored as JPEG at this short side (default 320, the official "
                        "offline resize; 0 keeps each video's size)")
    p.add_argument("--format", choices=("jpeg", "video"), default="jpeg",
                   help="jpeg: every frame as JPEG (read in the graph); video: the file's bytes")
    p.add_argument("--labels", help="label map (dataset name or file) to record in index.json")
    p.add_argument("--workers", type=int, help="decoders in parallel (default: the CPU count)")
    p.add_argument("--backend", default="auto", help="video decoder: auto, decord, pyav, opencv")


def run_pack(args: argparse.Namespace) -> int:
    from pathlib import Path

    from videomae_tf.data.packing import pack_videos

    path = existing(args.list, "annotation list")
    names = class_names(args.labels, None)
    report = pack_videos(str(path), args.output, root=args.root or Path(path).parent,
                         shards=args.shards, short_side=args.short_side, format=args.format,
                         label_names=names, num_workers=args.workers, backend=args.backend)
    print(f"pack: {report['videos']} videos in {report['shards']} shards "
          f"({len(report['written'])} written now, {len(report['skipped'])} already there), "
          f"{len(report['failed'])} failed -> {report['index']}")
    return 1 if not report["videos"] else 0


COMMANDS = {
    "pack": ("write a dataset as TFRecord shards (JPEG frames or video bytes) + index.json",
             add_pack_arguments, run_pack),
}

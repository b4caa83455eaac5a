"""Validation input from packed JPEG shards (in the graph) against the video files.

Views: the validation clip of every shared Kinetics-size video (16 frames at sampling rate
4, the centred dense window, short side 224, centre crop 224, normalised). Ours today:
``validation_dataset`` (decord in a ``tf.numpy_function``); packed: ``videomae-tf pack
--short-side 320`` once (timed apart), then ``packed_validation_dataset`` (no Python in
the pipeline: only the window's JPEG frames are decoded). Both on a private thread pool of
1 and 2 threads (and, for the videos, as many parallel decode calls),
repeated over the list for a fixed time; clips/s, clips per CPU-second (the per-core rate)
and the ratio of packed to videos in the same run, plus the bytes per video on disk.
Writes ``benchmarks/results/packed_pipeline.json`` (or ``--output``); about a minute.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import RESULTS, cpu_seconds, machine, rate_row, write_report  # noqa: E402

VIDEOS = REPO.parent / "shared" / "data" / "videos"
NAMES = ("arm_wrestling_k400.mp4", "mmaction2_test.mp4", "flipping_pancake.mkv",
         "mmaction2_test_xvid.avi")
VIEW = dict(num_frames=16, sampling_rate=4, short_side=224, crop_size=224)


def measure(dataset, seconds: float) -> dict:
    """Clips per second and per CPU-second of iterating ``dataset`` (repeated) for
    ``seconds``, after one warm-up pass."""
    for _ in dataset.take(len(NAMES)):
        pass
    made, start, cpu = 0, time.perf_counter(), cpu_seconds()
    for _ in dataset.repeat():
        made += 1
        if time.perf_counter() - start >= seconds:
            break
    wall, used = time.perf_counter() - start, cpu_seconds() - cpu
    return rate_row(made, wall, used)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per row (8)")
    parser.add_argument("--output", default=str(RESULTS / "packed_pipeline.json"))
    args = parser.parse_args(argv)
    if not VIDEOS.is_dir():
        print(f"the shared videos are not at {VIDEOS}", file=sys.stderr)
        return 2
    import tensorflow as tf

    from videomae_tf.data.annotations import VideoRecord
    from videomae_tf.data.packing import pack_videos, packed_index, packed_validation_dataset
    from videomae_tf.data.pipeline import validation_dataset

    records = [VideoRecord(str(VIDEOS / name), i) for i, name in enumerate(NAMES)]
    folder = Path(tempfile.mkdtemp(prefix="videomae_tf_packed_bench_"))
    try:
        start = time.perf_counter()
        pack_videos(records, str(folder / "pack"), shards=1, short_side=320, progress=False)
        pack_seconds = time.perf_counter() - start
        index = packed_index(str(folder / "pack"))
        packed_bytes = sum(os.path.getsize(f) for f in index["files"])
        video_bytes = sum(os.path.getsize(r.path) for r in records)
        rows = {}
        for calls in (1, 2):
            options = tf.data.Options()
            options.threading.private_threadpool_size = calls
            videos = validation_dataset(records, num_parallel_calls=calls, **VIEW)
            rows[f"videos, {calls} parallel"] = measure(videos.with_options(options), args.seconds)
            ours = packed_validation_dataset(index, **VIEW).with_options(options)
            rows[f"packed, {calls} parallel"] = measure(ours, args.seconds)
            rows[f"packed / videos, {calls} parallel"] = {
                key: round(rows[f"packed, {calls} parallel"][key]
                           / rows[f"videos, {calls} parallel"][key], 2)
                for key in ("clips_per_s", "clips_per_cpu_s")}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name, row in rows.items():
        print(f"{name:32s} {row}")
    write_report(args.output, {
        "view": VIEW, "videos": list(NAMES), "rows": rows,
        "bytes_per_video": {"packed_jpeg_320": packed_bytes // len(records),
                            "video_files": video_bytes // len(records)},
        "pack_seconds": round(pack_seconds, 2), "machine": machine(),
        "command": "python benchmarks/packed_pipeline.py"})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of ``predict --timeline`` on a long video against a short one, same run.

Renders a video of ``--minutes`` (default 60) by repeating the shared real clips
(320x240 MJPEG, 25 fps), and a one-minute cut of it; runs the timeline on each in a fresh
process (tiny model, a window every 5 s) and reports each process's peak RSS and the ratio
long / short. Streaming decode holds one window of frames, so the ratio stays near 1
whatever the length; a loader that read the whole video would need ~60x. Writes JSON to
``benchmarks/results/timeline_memory.json`` or ``--output``.

    python benchmarks/timeline_memory.py               # about 5 minutes on 2 cores
    python benchmarks/timeline_memory.py --minutes 10  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import RESULTS, machine, write_report

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"
SOURCES = ("arm_wrestling_k400.mp4", "mmaction2_test.mp4", "flipping_pancake.mkv")
FPS, SIZE = 25, (320, 240)

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from videomae_tf import VideoMAEClassifier
from videomae_tf.timeline import predict_timeline
model = VideoMAEClassifier(num_classes=10, img_size=32, num_frames=4, patch_size=16,
                           tubelet_size=2, embed_dim=32, depth=2, num_heads=2)
start = time.perf_counter()
timeline = predict_timeline(model, {video!r}, stride_s=5.0, backend={backend!r}, progress=False)
print(json.dumps({{"windows": len(timeline.probs), "seconds": time.perf_counter() - start,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def render(path: Path, minutes: float) -> int:
    """Write ``minutes`` of video made of the shared clips, repeated; returns frames."""
    import cv2

    sys.path.insert(0, str(REPO))
    from videomae_tf.data.decoders import VideoReader

    frames = [cv2.cvtColor(cv2.resize(f, SIZE), cv2.COLOR_RGB2BGR)
              for name in SOURCES for f in VideoReader(VIDEOS / name, "pyav").iter_frames()]
    total = int(minutes * 60 * FPS)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for i in range(total):
        writer.write(frames[i % len(frames)])
    writer.release()
    return total


def run_child(video: Path, backend: str) -> dict:
    code = CHILD.format(repo=str(REPO), video=str(video), backend=backend)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="long video length (60)")
    parser.add_argument("--backend", default="pyav", help="decoder (pyav)")
    parser.add_argument("--output", default=str(RESULTS / "timeline_memory.json"))
    args = parser.parse_args(argv)
    if not VIDEOS.is_dir():
        print(f"needs the shared videos at {VIDEOS}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        short, long = Path(tmp) / "short.avi", Path(tmp) / "long.avi"
        start = time.perf_counter()
        frames = {"short": render(short, 1.0), "long": render(long, args.minutes)}
        print(f"rendered {frames['long']} frames in {time.perf_counter() - start:.0f} s")
        runs = {}
        for name, video in (("short", short), ("long", long)):
            runs[name] = dict(run_child(video, args.backend), frames=frames[name],
                              minutes=frames[name] / FPS / 60)
            print(f"{name}: {runs[name]}")
    ratio = runs["long"]["peak_rss_mib"] / runs["short"]["peak_rss_mib"]
    result = {"backend": args.backend, "runs": runs, "peak_rss_ratio_long_to_short": ratio,
              "length_ratio": runs["long"]["frames"] / runs["short"]["frames"]}
    print(f"peak RSS long / short: {ratio:.2f} for a {result['length_ratio']:.0f}x longer video")
    write_report(args.output, dict(result, machine=machine()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time per clip of each deployment export in its own runtime, against Keras in the same run.

One model (default ViT-S/16, 16 frames at 224x224, 400 classes: the smallest official
fine-tuned size) is exported with ``videomae_tf.export.export_model`` to every format
whose packages are installed -- SavedModel, ONNX (ONNX Runtime), OpenVINO, LiteRT -- and
each is run on the same clip batch. Reported: seconds per clip (median of ``--repeats``
timed batches after one warm-up), the ratio to the Keras model (TensorFlow backend, a
compiled ``predict_on_batch``) and the max |logit difference| to it. Writes JSON to
``benchmarks/results/export_runtimes.json`` or ``--output``.

    python benchmarks/export_runtimes.py                 # ViT-S, a few minutes on 2 cores
    python benchmarks/export_runtimes.py --arch tiny     # seconds; a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import RESULTS, machine, write_report  # noqa: E402

TINY = dict(img_size=32, num_frames=4, patch_size=16, tubelet_size=2, embed_dim=32, depth=2,
            num_heads=2)


def build(arch: str):
    """A classifier whose logits are of order 1 (head init scale 1, not the official 0.001,
    which makes fresh logits ~1e-3 and any difference look small)."""
    from videomae_tf import VideoMAEClassifier, finetune_model

    if arch == "tiny":
        return VideoMAEClassifier(num_classes=400, init_scale=1.0, **TINY)
    return finetune_model(arch, num_classes=400, init_scale=1.0)


def timed(run, clips, repeats: int) -> float:
    """Median seconds per clip over ``repeats`` calls, after one warm-up call."""
    run(clips)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(clips)
        times.append((time.perf_counter() - start) / len(clips))
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="vit_s", help="vit_s (default), vit_b, ... or tiny")
    parser.add_argument("--batch", type=int, default=2, help="clips per call (2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per runtime (5)")
    parser.add_argument("--output", default=str(RESULTS / "export_runtimes.json"))
    args = parser.parse_args(argv)

    import importlib.util

    from videomae_tf.export import EXPORT_FORMATS, export_model, load_exported, model_clip_shape

    model = build(args.arch)
    clips = np.random.default_rng(0).normal(size=(args.batch,) + tuple(model_clip_shape(model)))
    clips = clips.astype(np.float32)
    reference = np.asarray(model.predict_on_batch(clips))
    print(f"logits up to {np.abs(reference).max():.2f} in magnitude")
    keras_s = timed(model.predict_on_batch, clips, args.repeats)
    rows = {"keras": {"seconds_per_clip": keras_s, "ratio_to_keras": 1.0,
                      "max_abs_logit_diff": 0.0}}
    print(f"keras: {keras_s:.3f} s/clip")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (suffix, modules, _) in EXPORT_FORMATS.items():
            if any(importlib.util.find_spec(m) is None for m in modules):
                rows[name] = {"skipped": f"not installed: {', '.join(modules)}"}
                print(f"{name}: skipped (not installed)")
                continue
            start = time.perf_counter()
            path = export_model(model, Path(tmp) / f"model{suffix}", name)
            export_s = time.perf_counter() - start
            precisions = ("fp32", "bf16") if name == "openvino" else ("fp32",)
            for precision in precisions:
                row = name if precision == "fp32" else f"{name}_{precision}"
                run = load_exported(path, name, precision)
                seconds = timed(run, clips, args.repeats)
                diff = float(np.max(np.abs(np.asarray(run(clips)) - reference)))
                rows[row] = {"seconds_per_clip": seconds, "ratio_to_keras": seconds / keras_s,
                             "max_abs_logit_diff": diff, "export_seconds": export_s}
                print(f"{row}: {seconds:.3f} s/clip ({seconds / keras_s:.2f}x Keras), "
                      f"max |diff| {diff:.1e}, export {export_s:.0f} s")
    write_report(args.output, {"arch": args.arch, "clip_shape": list(model_clip_shape(model)),
                               "batch": args.batch, "repeats": args.repeats,
                               "max_abs_logit": float(np.abs(reference).max()), "runtimes": rows,
                               "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

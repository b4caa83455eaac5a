"""Inference speed of our VideoMAE against PyTorch's, in one run (clips per second).

One fine-tuning model per size (ViT-S/16, ViT-B/16; 16 x 224 x 224 clips, 400 classes) is
made once at random in Hugging Face transformers and converted with our converter, so
every contender holds the same weights. Timed, alternating call by call:

* ours, TensorFlow backend: ``keras_predict`` (``model.predict_on_batch``), ``tf_graph``
  (``tf.function``), ``tf_xla`` (``tf.function(jit_compile=True)``), ``predict_fn`` (the
  fast call ``videomae_tf`` uses itself: ``models.fast.fast_predict``) and
  ``tf_xla_einsum_attention`` (XLA, attention through ``keras.ops.dot_product_attention``'s
  einsums: the A/B baseline of ``layers.attention_per_head``);
* ours on the JAX (jit) and torch backends, each in its own process (the backend is fixed
  when Keras is imported), timed there the same way;
* ours on TensorFlow with its oneDNN kernels switched the other way (``tensorflow_onednn``:
  a process with ``TF_ENABLE_ONEDNN_OPTS`` flipped, read once when TensorFlow loads):
  ``keras_predict``, ``tf_graph`` and ``predict_fn`` with ``_onednn_on`` or ``_onednn_off``;
* transformers' VideoMAE on torch: ``hf_eager`` (plain attention, as the official code),
  ``hf_sdpa`` (torch's fused attention), ``hf_compile`` (``torch.compile`` of the sdpa model).

Reported per mode and batch size: seconds per clip (median over ``--repeats`` rounds after a
warm-up), clips/s, GFLOP/s from the analytic count (2 x multiply-adds), the fraction of a
large matmul's rate of the same dtype (the best of TensorFlow's graph, XLA and torch)
measured in the same run, the ratio to ``hf_sdpa`` of the same dtype, the ratio to ``hf_eager`` and the max
|logit difference| to it. ``--dtypes bfloat16`` adds bf16 runs (ours: the mixed_bfloat16
policy; torch: the model cast to bfloat16) with the logit difference to fp32.

    python benchmarks/inference.py                       # ViT-S, fp32, batch 1 and 4
    python benchmarks/inference.py --sizes vit_s vit_b --dtypes float32 bfloat16
    python benchmarks/inference.py --sizes tiny --repeats 2   # seconds: a smoke run

Writes ``benchmarks/results/inference_<cpu|gpu>.json`` (or ``--output``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if "--child" not in sys.argv:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import RESULTS, alternating_times, machine, seconds_of, write_report  # noqa: E402

from videomae_tf.cpu import ONEDNN_ENV, onednn_setting  # noqa: E402

#: Our TensorFlow modes timed again with oneDNN switched the other way (``tensorflow_onednn``).
ONEDNN_MODES = ("keras_predict", "tf_graph", "predict_fn")

#: transformers configs of the sizes (hidden, layers, heads, MLP width).
SIZES = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=256, image_size=64, num_frames=8),
    "vit_s": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                  intermediate_size=1536),
    "vit_b": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072),
}


def multiply_adds(config: dict) -> float:
    """Analytic multiply-adds of one clip's forward pass: the patch embedding, per block
    qkv + proj + MLP (4 D^2 + 2 D M per token) and attention (2 N^2 D), the head."""
    d, m, depth = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    frames, size = config.get("num_frames", 16), config.get("image_size", 224)
    tokens = (frames // 2) * (size // 16) ** 2
    embed = tokens * d * 3 * 2 * 16 * 16
    blocks = depth * (tokens * (4 * d * d + 2 * d * m) + 2 * tokens * tokens * d)
    return float(embed + blocks + d * 400)


def hf_model(size: str):
    import torch
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    torch.manual_seed(0)
    config = VideoMAEConfig(**SIZES[size], num_labels=400)
    return VideoMAEForVideoClassification(config).eval()


def timed_rounds(calls: dict, clips_of: dict, repeats: int) -> dict:
    """{mode: median seconds per clip}: every call once to warm up, then ``repeats``
    alternating rounds (``_report.alternating_times``)."""
    _, times = alternating_times(
        {name: functools.partial(call, clips_of[name]) for name, call in calls.items()}, repeats)
    return {name: statistics.median(values) / len(clips_of[name])
            for name, values in times.items()}


def matmul_rate(dtype: str = "float32", n: int = 2048, repeats: int = 5) -> dict:
    """GFLOP/s of an n x n x n matmul of ``dtype`` in TensorFlow (graph: oneDNN; XLA) and
    torch: the machine's peak for this kind of work, as the frameworks reach it."""
    import tensorflow as tf
    import torch

    a = tf.cast(tf.random.normal((n, n)), dtype)
    tf_mm = tf.function(lambda x: tf.matmul(x, x))
    xla_mm = tf.function(lambda x: tf.matmul(x, x), jit_compile=True)
    ta = torch.randn(n, n).to(getattr(torch, dtype))
    rates = {}
    for name, call in (("tensorflow", lambda: tf_mm(a).numpy()),
                       ("tensorflow_xla", lambda: xla_mm(a).numpy()),
                       ("torch", lambda: torch.matmul(ta, ta))):
        call()
        best = min(seconds_of(call) for _ in range(repeats))
        rates[name] = round(2 * n ** 3 / best / 1e9, 1)
    return rates


def with_einsum_attention(run):
    """``run`` traced with ``keras.ops.dot_product_attention`` in every block (on TensorFlow
    its einsums over all heads), the form before ``layers.attention_per_head``: the A/B
    baseline. A compiled call traces on its first call, so the switch is held around every
    call (free once traced)."""
    from unittest import mock

    from videomae_tf.models import layers

    def call(x):
        with mock.patch.object(layers, "attends_per_head", lambda tokens: False):
            return run(x)
    return call


def our_calls(model) -> dict:
    """The TensorFlow-backend ways to run our model."""
    import tensorflow as tf

    from videomae_tf.models.fast import fast_predict

    graph = tf.function(lambda x: model(x, training=False))
    xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
    einsum = with_einsum_attention(
        tf.function(lambda x: model(x, training=False), jit_compile=True))
    fast = fast_predict(model)
    return {"keras_predict": lambda x: np.asarray(model.predict_on_batch(x)),
            "tf_graph": lambda x: graph(x).numpy(),
            "tf_xla": lambda x: xla(x).numpy(),
            "tf_xla_einsum_attention": lambda x: einsum(x).numpy(),
            "predict_fn": lambda x: np.asarray(fast(x))}


def hf_calls(size: str, dtype: str) -> dict:
    import torch

    calls = {}
    for name, attention in (("hf_eager", "eager"), ("hf_sdpa", "sdpa")):
        model = hf_model(size)
        model.config._attn_implementation = attention
        if dtype == "bfloat16":
            model = model.to(torch.bfloat16)
        calls[name] = _torch_call(model, dtype)
    compiled = hf_model(size)
    compiled.config._attn_implementation = "sdpa"
    if dtype == "bfloat16":
        compiled = compiled.to(torch.bfloat16)
    try:
        calls["hf_compile"] = _torch_call(torch.compile(compiled), dtype)
    except Exception as e:  # noqa: BLE001 - no compiler toolchain: report, go on
        print(f"torch.compile unavailable: {type(e).__name__}: {e}", file=sys.stderr)
    return calls


def _torch_call(model, dtype: str):
    import torch

    def call(x):
        pixels = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3)))
        if dtype == "bfloat16":
            pixels = pixels.to(torch.bfloat16)
        with torch.inference_mode():
            return model(pixel_values=pixels).logits.float().numpy()
    return call


def child(backend: str, weights: str, batch: int, repeats: int, dtype: str) -> None:
    """Run in a process of its own: time our model on ``backend`` (on JAX also
    ``with_einsum_attention``, the A/B of ``attention_per_head`` on CPU), print JSON."""
    import keras

    from videomae_tf.models import load_model
    from videomae_tf.models.fast import fast_predict

    if dtype == "bfloat16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    rng = np.random.default_rng(1)
    model = load_model(weights)
    clips = rng.standard_normal((batch, *model.clip_shape)).astype("float32")
    if backend == "tensorflow_onednn":
        suffix = "_onednn_on" if onednn_setting() == "1" else "_onednn_off"
        calls = {key + suffix: call for key, call in our_calls(model).items()
                 if key in ONEDNN_MODES}
    else:
        name = f"{backend}_jit" if backend == "jax" else f"{backend}_backend"
        runs = {name: fast_predict(model)}
        if backend == "jax":
            runs["jax_jit_dot_product_attention"] = with_einsum_attention(fast_predict(model))
        calls = {key: (lambda x, run=run: np.asarray(run(x))) for key, run in runs.items()}
    seconds = timed_rounds(calls, {key: clips for key in calls}, repeats)
    print("RESULT " + json.dumps({key: [seconds[key], calls[key](clips).tolist()]
                                  for key in calls}))


def run_child(backend: str, weights: Path, batch: int, repeats: int, dtype: str) -> dict:
    """{mode: (seconds per clip, logits)} of ``child`` on ``backend`` ({} if it failed);
    ``tensorflow_onednn``: TensorFlow with its oneDNN kernels the other way from ours."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    if backend == "tensorflow_onednn":
        env.update({"KERAS_BACKEND": "tensorflow",
                    ONEDNN_ENV: "0" if onednn_setting() == "1" else "1"})
    out = subprocess.run([sys.executable, __file__, "--child", backend, "--weights",
                          str(weights), "--batches", str(batch), "--repeats", str(repeats),
                          "--dtypes", dtype], env=env, capture_output=True, text=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if out.returncode or line is None:
        print(f"{backend} backend failed: {out.stderr.strip().splitlines()[-1:]}",
              file=sys.stderr)
        return {}
    return {key: (value[0], np.asarray(value[1], np.float32))
            for key, value in json.loads(line[len("RESULT "):]).items()}


def bench_size(size: str, batches, repeats: int, dtypes, backends, folder: Path,
               peak: dict) -> list[dict]:
    import keras

    from checkpoints_convert import convert
    from videomae_tf.models import save_weights

    hf = hf_model(size)
    hf.save_pretrained(folder / size)
    rows = []
    macs = multiply_adds(SIZES[size])
    reference = {}
    for dtype in dtypes:
        keras.config.set_dtype_policy("mixed_bfloat16" if dtype == "bfloat16" else "float32")
        model = convert(folder / size, None, log=None, progress=False).model
        weights = save_weights(model, folder / f"{size}.weights.h5")
        keras.config.set_dtype_policy("float32")
        calls = dict(our_calls(model), **hf_calls(size, dtype))
        for batch in batches:
            rng = np.random.default_rng(1)
            clips = rng.standard_normal((batch, *model.clip_shape)).astype("float32")
            seconds = timed_rounds(calls, {name: clips for name in calls}, repeats)
            logits = {name: np.asarray(call(clips), np.float32) for name, call in calls.items()}
            for backend in backends:
                for name, (value, backend_logits) in run_child(
                        backend, weights, batch, repeats, dtype).items():
                    seconds[name], logits[name] = value, backend_logits
            if dtype == "float32":
                reference[batch] = logits["hf_eager"]
            base = seconds["hf_eager"]
            for name, value in seconds.items():
                gflops = 2 * macs / value / 1e9
                rows.append(dict(
                    size=size, dtype=dtype, batch=batch, mode=name,
                    seconds_per_clip=round(value, 4), clips_per_second=round(1 / value, 3),
                    gflops=round(gflops, 1), fraction_of_matmul=round(gflops / peak[dtype], 3),
                    speedup_vs_hf_sdpa=round(seconds["hf_sdpa"] / value, 3),
                    speedup_vs_hf_eager=round(base / value, 3),
                    max_logit_diff_vs_hf_eager_fp32=float(np.max(np.abs(
                        logits[name] - reference[batch]))) if batch in reference else None,
                    top1_agrees_with_fp32=bool(np.array_equal(
                        logits[name].argmax(-1), reference[batch].argmax(-1)))
                    if batch in reference else None))
                print(f"{size} {dtype} batch {batch} {name:14s} {value:8.4f} s/clip "
                      f"{gflops:7.1f} GFLOP/s  x{base / value:.2f} vs hf_eager "
                      f"x{seconds['hf_sdpa'] / value:.2f} vs hf_sdpa", flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["vit_s"], choices=sorted(SIZES))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--dtypes", nargs="+", default=["float32"],
                        choices=("float32", "bfloat16"))
    parser.add_argument("--backends", nargs="*", default=["jax", "torch", "tensorflow_onednn"],
                        choices=("jax", "torch", "tensorflow_onednn"),
                        help="other Keras backends to time our model on (own processes); "
                             "tensorflow_onednn: TensorFlow with oneDNN switched the other way")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.weights, args.batches[0], args.repeats, args.dtypes[0])
        return 0
    import tensorflow as tf

    device = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    peak = {dtype: matmul_rate(dtype) for dtype in args.dtypes}
    print(f"matmul GFLOP/s: {peak}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            rows += bench_size(size, args.batches, args.repeats, args.dtypes, args.backends,
                               Path(tmp), {d: max(r.values()) for d, r in peak.items()})
    write_report(args.output or RESULTS / f"inference_{device}.json",
                 {"machine": dict(machine(), device=device), "matmul_gflops": peak,
                  "analytic_gmacs": {s: multiply_adds(SIZES[s]) / 1e9 for s in args.sizes},
                  "command": "python benchmarks/inference.py " + " ".join(argv or sys.argv[1:]),
                  "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fastest inference call of a model on the current backend and device.

``fast_predict(model)`` returns ``run(clips) -> outputs`` (numpy in, backend tensors out):
one compiled function, traced once per batch size, with no Keras ``predict`` machinery
(callbacks, data adapters, host round trips) on the hot path.

* TensorFlow on a GPU/TPU: XLA (``tf.function(jit_compile=True)``).
* TensorFlow on a CPU: the plain graph or XLA, **whichever measures faster on this CPU**.
  The first call of each input shape runs both twice and keeps the faster; the choice is
  cached per CPU model and features, TensorFlow version, model config, shape and dtype
  policy (``fast_modes.json`` in ``hub.cache_dir()``), so later processes skip the probe.
  Neither wins everywhere (``benchmarks/inference.py``): on a 2-core AVX-512/BF16 AMD CPU,
  ViT-S fp32 runs 0.64 s/clip in the graph and 0.67 with XLA, bf16 0.42 in the graph and
  0.77 with XLA (XLA's CPU matmul has no bf16 kernel: 198 vs the graph's oneDNN 408
  GFLOP/s); on a 2-core AVX2 CPU XLA was 1.6x faster at four clips a call.
  ``VIDEOMAE_TF_FAST_MODE=graph|xla`` (or ``mode=``) skips the probe.
* JAX: ``jax.jit`` of the model's stateless call over its variables as they are now
  (call ``fast_predict`` again after loading other weights);
* torch: the model under ``torch.inference_mode``.

``predict``, ``evaluate``, ``features`` and ``timeline`` run models through it
(``evaluation.as_inference_model``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Callable

import keras
import numpy as np

from videomae_tf.errors import InputError

__all__ = ["MODE_ENV", "fast_predict"]

#: Environment variable that fixes the TensorFlow mode ("graph" or "xla") for every call.
MODE_ENV = "VIDEOMAE_TF_FAST_MODE"
_MODES = ("graph", "xla")
_CACHE_FILE = "fast_modes.json"


def fast_predict(model, mode: str = "auto") -> Callable:
    """``run(clips)`` for ``model`` in inference mode (see the module doc); on TensorFlow
    ``run.modes`` maps each input shape seen to the mode that runs it."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _TensorFlowRun(model, mode)
    run = {"jax": _jax, "torch": _torch}.get(backend)
    run = run(model) if run else lambda clips: model(clips, training=False)
    check = _clip_check(model)

    def checked(clips):
        check(clips)
        return run(clips)
    return checked


def _clip_check(model) -> Callable:
    """``check(clips)``: the model's own clip check (shape and dtype, one line naming what
    it expects), run before the compiled function so that no tracing text comes first."""
    for holder in (model, getattr(model, "encoder", None), getattr(model, "backbone", None)):
        if hasattr(holder, "check_clip"):
            def check(clips, check_clip=holder.check_clip):
                if not isinstance(clips, dict):  # a pretrainer's inputs are checked by it
                    clips = clips if hasattr(clips, "shape") else np.asarray(clips)
                    check_clip(tuple(clips.shape), clips.dtype)
            return check
    return lambda clips: None


class _TensorFlowRun:
    """Graph and XLA functions of one model, and the mode chosen per input shape."""

    def __init__(self, model, mode: str):
        import tensorflow as tf

        if mode == "auto":
            mode = os.environ.get(MODE_ENV) or "auto"
            where = f"${MODE_ENV}"
        else:
            where = "mode"
        if mode not in ("auto", *_MODES):
            raise InputError(f"{where} must be 'auto', 'graph' or 'xla', got {mode!r}")
        self.model = model
        self.fixed = None if mode == "auto" else mode
        if self.fixed is None and (tf.config.list_logical_devices("GPU")
                                   or tf.config.list_logical_devices("TPU")):
            self.fixed = "xla"
        self.functions = {
            name: tf.function(lambda clips: model(clips, training=False),
                              jit_compile=name == "xla")
            for name in _MODES}
        self.modes: dict[tuple, str] = {}
        self.check = _clip_check(model)

    def __call__(self, clips):
        import tensorflow as tf

        clips = tf.convert_to_tensor(clips)
        self.check(clips)
        shape = tuple(clips.shape)
        if shape not in self.modes:
            self.modes[shape] = self.fixed or _cached_choice(self._key(shape))
        if self.modes[shape] is None:
            self.modes[shape] = _measure(self.functions, clips)
            _store_choice(self._key(shape), self.modes[shape])
        return self.functions[self.modes[shape]](clips)

    def _key(self, shape: tuple) -> str:
        import tensorflow as tf

        from videomae_tf.cpu import cpu_info, onednn_setting

        identity = {"cpu": cpu_info(), "onednn": onednn_setting(), "tensorflow": tf.__version__,
                    "shape": list(shape), "policy": self.model.dtype_policy.name, "class": type(self.model).__name__,
                    "config": self.model.get_config()}
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def _measure(functions: dict, clips, rounds: int = 2) -> str:
    """The mode of ``functions`` that runs ``clips`` fastest: each is traced (and compiled)
    once, then timed ``rounds`` times, alternating; a mode that fails to compile loses."""
    def run(name: str) -> float:
        start = time.perf_counter()
        keras.tree.map_structure(lambda t: t.numpy(), functions[name](clips))
        return time.perf_counter() - start

    best = {}
    for name in functions:
        try:
            run(name)
        except Exception:  # noqa: BLE001 - e.g. an op XLA cannot compile: the other mode runs
            continue
        best[name] = float("inf")
    for _ in range(rounds):
        for name in best:
            best[name] = min(best[name], run(name))
    if not best:
        return "graph"  # neither compiled: let the graph's own error reach the caller
    return min(best, key=best.get)


def _cache_path():
    from videomae_tf.hub import cache_dir

    return cache_dir() / _CACHE_FILE


def _cached_choice(key: str) -> str | None:
    try:
        choice = json.loads(_cache_path().read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    return choice if choice in _MODES else None


def _store_choice(key: str, mode: str) -> None:
    """Add ``key -> mode`` to the cache file (written to a temporary name, then renamed);
    a cache that cannot be written only costs the next process a probe."""
    path = _cache_path()
    try:
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
            table = table if isinstance(table, dict) else {}
        except (OSError, ValueError):
            table = {}
        table[key] = mode
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def _jax(model) -> Callable:
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    @jax.jit
    def run(trainable, non_trainable, clips):
        outputs, _ = model.stateless_call(trainable, non_trainable, clips, training=False)
        return outputs

    return lambda clips: run(trainable, non_trainable, clips)


def _torch(model) -> Callable:
    import torch

    def run(clips):
        with torch.inference_mode():
            return model(keras.ops.convert_to_tensor(clips), training=False)

    return run

"""The fastest inference call of a model on the current backend and device.

``fast_predict(model)`` returns ``run(clips) -> outputs`` (numpy in, backend tensors out):
one compiled function, traced once per batch size, with no Keras ``predict`` machinery
(callbacks, data adapters, host round trips) on the hot path. What "compiled" means was
chosen from ``benchmarks/inference.py``, not assumed:

* TensorFlow: XLA (``tf.function(jit_compile=True)``) on every device: on the 2-core
  AVX2 CPU it runs ViT-S as fast as the plain graph one clip at a time and 1.6x faster four
  at a time (1.45 vs 2.28 s per clip), and its first call (compiling included) is about as
  long as the graph's; on GPU/TPU XLA is the expected winner. ``mode="graph"`` keeps the
  plain graph (measure on your CPU: ``benchmarks/inference.py``). Keras's own
  ``model.predict`` leaves XLA off on CPU-only machines;
* JAX: ``jax.jit`` of the model's stateless call over its variables as they are now
  (call ``fast_predict`` again after loading other weights);
* torch: the model under ``torch.inference_mode``.

``mode`` forces "graph" or "xla" on TensorFlow. ``predict``, ``evaluate``, ``features``
and ``timeline`` run models through it (``evaluation.as_inference_model``).
"""

from __future__ import annotations

from typing import Callable

import keras

from videomae_tf.errors import InputError

__all__ = ["fast_predict"]


def fast_predict(model, mode: str = "auto") -> Callable:
    """``run(clips)`` for ``model`` in inference mode (see the module doc)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(model, mode)
    if backend == "jax":
        return _jax(model)
    if backend == "torch":
        return _torch(model)
    return lambda clips: model(clips, training=False)


def _tensorflow(model, mode: str) -> Callable:
    import tensorflow as tf

    mode = "xla" if mode == "auto" else mode
    if mode not in ("graph", "xla"):
        raise InputError(f"mode must be 'auto', 'graph' or 'xla', got {mode!r}")
    function = tf.function(lambda clips: model(clips, training=False),
                           jit_compile=mode == "xla")
    return lambda clips: function(tf.convert_to_tensor(clips))


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

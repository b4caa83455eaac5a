"""Which tf.distribute strategy and which precision a run gets, from the environment."""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "tpu", "multi_worker", "mirrored", "default")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def _workers_in_tf_config():
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster = config.get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _find_tpu():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        resolver.master()  # raises when there is none
        return resolver
    except (ValueError, RuntimeError, KeyError, tf.errors.NotFoundError):
        return None


def make_strategy(kind="auto"):
    """A strategy: TPU if one is found, MultiWorkerMirrored when TF_CONFIG lists several
    workers, Mirrored for several GPUs, the default strategy otherwise.

    ``kind`` forces one of ``STRATEGIES``. Call this before TensorFlow touches a device.
    """
    if kind not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {kind!r}")
    if kind in ("auto", "tpu"):
        resolver = _find_tpu()
        if resolver is not None:
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        if kind == "tpu":
            raise RuntimeError("strategy 'tpu' asked for, but TPUClusterResolver finds no TPU")
    if kind == "multi_worker" or (kind == "auto" and _workers_in_tf_config() > 1):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored" or (kind == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def device_kind(strategy):
    """'tpu', 'gpu' or 'cpu': what the strategy's replicas run on."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    devices = getattr(strategy.extended, "worker_devices", None) or ()
    if any("GPU" in d.upper() for d in devices) or (
        not devices and tf.config.list_logical_devices("GPU")
    ):
        return "gpu"
    return "cpu"


def resolve_precision(precision, strategy):
    """'auto' -> mixed_bfloat16 on TPU, mixed_float16 on GPU, float32 on CPU."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return {"tpu": "mixed_bfloat16", "gpu": "mixed_float16"}.get(device_kind(strategy), "float32")


def is_chief(strategy):
    """True on the worker that writes checkpoints and logs (always, outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )

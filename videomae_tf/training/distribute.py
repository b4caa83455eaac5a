"""Where a run's replicas live: the tf.distribute strategy (TensorFlow backend) or the
``keras.distribution`` (JAX backend), the workers of a cluster, and the precision.

TensorFlow: TPUStrategy when a TPU is found, MultiWorkerMirroredStrategy when TF_CONFIG
lists several workers, MirroredStrategy for several GPUs, else the default strategy.
JAX: DataParallel over every device (of every process), or ModelParallel with a
``model`` mesh axis that splits the large kernels of the transformer blocks.
"""

import json
import os
import signal

import keras

from videomae_tf.errors import InputError

STRATEGIES = ("auto", "tpu", "multi_worker", "mirrored", "default")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")

#: How long a collective op waits for the other workers before failing (seconds): a dead
#: or stuck peer turns into an error, not a hang. It must outlast the slowest step.
COLLECTIVE_TIMEOUT = 600


def cluster_workers(tf_config=None):
    """The number of processes TF_CONFIG lists (chief + workers; 0 without TF_CONFIG)."""
    text = os.environ.get("TF_CONFIG") if tf_config is None else tf_config
    try:
        config = json.loads(text or "{}")
    except json.JSONDecodeError as e:
        raise InputError(f"TF_CONFIG is not valid JSON: {e}") from None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else {}
    if not isinstance(cluster, dict):
        raise InputError(f"TF_CONFIG's cluster must map task types to address lists, got "
                         f"{type(cluster).__name__}")
    if cluster:
        _check_task(config, cluster)
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _check_task(config: dict, cluster: dict) -> None:
    """TF_CONFIG's task must be one of its cluster's: a task that is not (a "chief" where
    the cluster has none, an index past its list) would train alone, silently."""
    task = config.get("task")
    if not isinstance(task, dict):
        raise InputError("TF_CONFIG has a cluster but no task: expected "
                         '"task": {"type": "worker", "index": N}')
    kind, index = task.get("type"), task.get("index", 0)
    if isinstance(index, str) and index.strip().isdigit():  # TensorFlow takes "1" too
        index = int(index)
    if kind not in cluster:
        raise InputError(f"TF_CONFIG task type {kind!r} is not in its cluster, which has "
                         f"{', '.join(map(repr, cluster))}")
    if isinstance(index, bool) or not isinstance(index, int) \
            or not 0 <= index < len(cluster[kind]):
        raise InputError(f"TF_CONFIG task index {index!r}: the cluster lists "
                         f"{len(cluster[kind])} {kind} address(es), indexed from 0")


def _find_tpu():
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        resolver.master()  # raises when there is none
        return resolver
    except (ValueError, RuntimeError, KeyError, tf.errors.NotFoundError):
        return None


def exit_on_signals():
    """Let SIGTERM and SIGINT end the process at once.

    A multi-worker runtime catches SIGTERM itself (preemption handling), and a main
    thread blocked in a collective never reaches Python's handlers, so a stuck worker
    would outlive ``timeout`` and Ctrl-C. Called once the cluster is up.
    """
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(signum, signal.SIG_DFL)
        except ValueError:  # not the main thread: leave the handlers alone
            return


def make_strategy(kind="auto", collective_timeout=COLLECTIVE_TIMEOUT):
    """A tf.distribute strategy: TPU if one is found, MultiWorkerMirrored when TF_CONFIG
    lists several workers, Mirrored for several GPUs, the default strategy otherwise.

    ``kind`` forces one of ``STRATEGIES``. Call this before TensorFlow touches a device.
    A multi-worker strategy waits for every worker in TF_CONFIG to start; its collectives
    fail after ``collective_timeout`` seconds instead of waiting for ever.
    """
    import tensorflow as tf

    if kind not in STRATEGIES:
        raise InputError(f"strategy must be one of {STRATEGIES}, got {kind!r}")
    workers = cluster_workers()  # a TF_CONFIG that does not describe this process stops here
    if kind in ("auto", "tpu"):
        resolver = _find_tpu()
        if resolver is not None:
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        if kind == "tpu":
            raise RuntimeError("strategy 'tpu' asked for, but TPUClusterResolver finds no TPU")
    if kind == "multi_worker" or (kind == "auto" and workers > 1):
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=collective_timeout)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        exit_on_signals()
        return strategy
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored" or (kind == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def make_distribution(kind="auto", model_parallel=1):
    """The ``keras.distribution`` of a JAX run, or None for one device.

    ``kind``: 'auto' or 'default' (DataParallel over all devices when there are several;
    'default' forces one device), 'multi_worker' (first join the processes of a
    multi-host JAX job: ``keras.distribution.initialize``, which reads the job from the
    environment or the TPU pod), 'tpu' (like 'auto'). ``model_parallel`` > 1: a
    (batch, model) device mesh whose model axis splits the blocks' large kernels
    (``vit_layout_map``), for models that do not fit one chip.
    """
    if kind not in STRATEGIES or kind == "mirrored":
        raise InputError(f"on the JAX backend strategy must be one of auto, tpu, multi_worker, "
                         f"default; got {kind!r}")
    if kind == "multi_worker":
        keras.distribution.initialize()
    devices = keras.distribution.list_devices()
    model_parallel = int(model_parallel or 1)
    if model_parallel < 1 or len(devices) % model_parallel:
        raise InputError(f"model_parallel={model_parallel} must divide the {len(devices)} devices")
    if model_parallel > 1:
        mesh = keras.distribution.DeviceMesh(
            (len(devices) // model_parallel, model_parallel), ["batch", "model"], devices)
        return keras.distribution.ModelParallel(layout_map=vit_layout_map(mesh),
                                                batch_dim_name="batch")
    if kind == "default" or len(devices) == 1:
        return None
    return keras.distribution.DataParallel(devices=devices)


def vit_layout_map(mesh):
    """Megatron-style split of the transformer blocks over the mesh's ``model`` axis:
    qkv and fc1 by output columns, proj and fc2 by input rows (one all-reduce per
    attention and per MLP); everything else replicated."""
    layout_map = keras.distribution.LayoutMap(mesh)
    layout_map[r".*/attn/qkv/kernel"] = (None, "model")
    layout_map[r".*/attn/proj/kernel"] = ("model", None)
    layout_map[r".*/mlp/fc1/kernel"] = (None, "model")
    layout_map[r".*/mlp/fc1/bias"] = ("model",)
    layout_map[r".*/mlp/fc2/kernel"] = ("model", None)
    return layout_map


def distribution_replicas(distribution):
    """How many ways a JAX distribution splits the batch (1 without one)."""
    if distribution is None:
        return 1
    mesh = distribution.device_mesh
    return mesh.shape[mesh.axis_names.index(distribution.batch_dim_name)]


def device_kind(strategy):
    """'tpu', 'gpu' or 'cpu': what the replicas run on (a tf.distribute strategy on
    TensorFlow; on JAX the strategy argument is ignored and JAX's devices decide)."""
    if keras.backend.backend() == "jax":
        import jax

        return {"tpu": "tpu", "gpu": "gpu"}.get(jax.devices()[0].platform, "cpu")
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    try:
        devices = strategy.extended.worker_devices or ()
    except (AttributeError, RuntimeError):  # the default strategy has none: it raises
        devices = ()
    if any("GPU" in d.upper() for d in devices) or (
        not devices and tf.config.list_logical_devices("GPU")
    ):
        return "gpu"
    return "cpu"


def resolve_precision(precision, strategy=None):
    """'auto' -> mixed_bfloat16 on TPU, mixed_float16 on GPU (JAX: mixed_bfloat16: it has
    no loss scaling here), float32 on CPU."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    jax = keras.backend.backend() == "jax"
    if jax and precision == "mixed_float16":
        raise InputError("precision mixed_float16 needs loss scaling, which the JAX path "
                         "does not do; use mixed_bfloat16")
    if precision != "auto":
        return precision
    gpu = "mixed_bfloat16" if jax else "mixed_float16"
    return {"tpu": "mixed_bfloat16", "gpu": gpu}.get(device_kind(strategy), "float32")


def _cluster_position(strategy):
    """(index, count) of this worker among the strategy's workers, chief first."""
    import tensorflow as tf

    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return 0, 1
    cluster = resolver.cluster_spec().as_dict()
    chiefs, workers = len(cluster.get("chief", [])), len(cluster.get("worker", []))
    if resolver.task_type in (None, "chief"):
        return 0, max(chiefs + workers, 1)
    return chiefs + int(resolver.task_id or 0), chiefs + workers


def worker_index(strategy):
    """This worker's place in the cluster, 0 for the chief (always 0 outside multi-worker)."""
    return _cluster_position(strategy)[0]


def worker_count(strategy):
    """How many worker processes the strategy spans (1 outside multi-worker)."""
    return _cluster_position(strategy)[1]

"""tf.data service: packed pipelines computed by workers on other hosts (issue 25).

A tf.data service is a dispatcher and any number of workers (``videomae-tf data-service
--dispatcher PORT`` and ``--worker HOST:PORT``, or ``start_dispatcher`` / ``start_worker``
here). ``distribute(dataset, "grpc://HOST:PORT")`` sends a pipeline's graph to it: the
workers read, decode and augment, the trainer only receives batches. Only a pipeline of
TensorFlow ops travels (a ``tf.numpy_function`` does not), so it is the packed pipeline
(``data.packing``) that goes there.

Sharding is ``DYNAMIC`` (tf.data's ``distributed_epoch``): the dispatcher hands the
pipeline's source -- the list of shard files -- out file by file to whichever worker asks
next, so every video is read at most once per pass, workers may come and go, and a worker
killed mid-epoch loses only the rest of the file it was reading (training goes on with the
others). A dispatcher that cannot be reached is one line within ``CONNECT_TIMEOUT``, never
a hang.
"""

from __future__ import annotations

import re
import signal
import socket
import threading

from videomae_tf.errors import InputError

__all__ = ["CONNECT_TIMEOUT", "check_reachable", "distribute", "parse_address", "serve",
           "start_dispatcher", "start_worker"]

#: Seconds a dispatcher has to accept a connection before a run gives up on it.
CONNECT_TIMEOUT = 10.0

_ADDRESS = re.compile(r"^(?:grpc://)?(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


def parse_address(address: str, what: str = "data.service") -> tuple[str, int]:
    """``grpc://HOST:PORT`` (or ``HOST:PORT``) -> (host, port); anything else is refused."""
    match = _ADDRESS.match(str(address).strip()) if isinstance(address, str) else None
    port = int(match["port"]) if match else 0
    if not match or not 1 <= port <= 65535:
        raise InputError(f"{what}={address!r}: expected a dispatcher address grpc://HOST:PORT "
                         "(port 1-65535)")
    return match["host"].strip("[]"), port


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT,
                    what: str = "data.service") -> tuple[str, int]:
    """(host, port) of ``address`` once something accepts connections there; an InputError
    naming ``what`` and the address otherwise (tf.data itself would retry for ever)."""
    host, port = parse_address(address, what)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise InputError(f"{what}={address}: no tf.data service dispatcher answers at "
                         f"{host}:{port} within {timeout:g} s ({reason}); start one with "
                         f"`videomae-tf data-service --dispatcher {port}`") from None
    return host, port


def distribute(dataset, address: str, *, job_name: str | None = None,
               timeout: float = CONNECT_TIMEOUT):
    """``dataset`` computed by the service's workers, sharded ``DYNAMIC`` (each element of
    a pass at most once, whichever worker makes it)."""
    import tensorflow as tf

    host, port = check_reachable(address, timeout)
    return dataset.apply(tf.data.experimental.service.distribute(
        processing_mode=tf.data.experimental.service.ShardingPolicy.DYNAMIC,
        service=f"grpc://{host}:{port}", job_name=job_name))


def start_dispatcher(port: int = 0, work_dir: str | None = None):
    """A dispatcher serving on ``port`` (0: a free one; ``.target`` is its address).
    ``work_dir`` (a local or gfile folder) keeps its journal, so a restarted dispatcher
    resumes its jobs."""
    import tensorflow as tf

    config = tf.data.experimental.service.DispatcherConfig(
        port=port, work_dir=work_dir, fault_tolerant_mode=work_dir is not None)
    return tf.data.experimental.service.DispatchServer(config)


def start_worker(dispatcher: str, port: int = 0, host: str | None = None):
    """A worker of the dispatcher at ``dispatcher`` (``grpc://HOST:PORT``), serving on
    ``port`` (0: a free one) and telling the dispatcher it is at ``host`` (default: this
    machine's name; give the address other hosts reach it by)."""
    import tensorflow as tf

    dispatcher_host, dispatcher_port = check_reachable(dispatcher, what="--worker")
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=f"{dispatcher_host}:{dispatcher_port}",
        worker_address=f"{host or socket.gethostname()}:%port%", port=port)
    return tf.data.experimental.service.WorkerServer(config)


def serve(server, describe: str) -> int:
    """Run ``server`` until SIGINT or SIGTERM, then stop it: exit status 0."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"{describe}; stop with Ctrl-C or SIGTERM", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.stop()
    print("data-service: stopped", flush=True)
    return 0

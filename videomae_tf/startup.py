"""A quiet start for the command-line entry points.

Importing TensorFlow prints C++ start-up lines (absl's "All log messages before
absl::InitializeLog()", "Could not find cuda drivers", "failed call to cuInit") before
any of our output, on every machine without a GPU. Those lines are written straight to
file descriptor 2 while TensorFlow loads, before any logging setting applies, so the
entry points import TensorFlow once with that descriptor pointed at /dev/null, and set
TensorFlow's and absl's log levels so that later C++ INFO/WARNING lines stay quiet too.
``verbose=True`` (``--verbose``) leaves everything as TensorFlow has it.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def _native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the block (Python's sys.stderr too)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def quiet_start(verbose: bool = False) -> None:
    """Import TensorFlow without its start-up lines (unless ``verbose``); call it before
    anything imports TensorFlow or Keras. A failing import is retried loudly, so its
    error is shown."""
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    try:
        with _native_stderr_silenced():
            import tensorflow as tf
    except Exception:  # noqa: BLE001 - the loud retry below shows what went wrong
        import tensorflow as tf  # noqa: F401
    tf.get_logger().setLevel("ERROR")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass

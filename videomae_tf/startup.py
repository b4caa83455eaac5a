"""A quiet start for the command-line entry points.

Importing TensorFlow prints C++ start-up lines (absl's "All log messages before
absl::InitializeLog()", "Could not find cuda drivers", "failed call to cuInit") before
any of our output, on every machine without a GPU. Those lines are written straight to
file descriptor 2 while TensorFlow loads, before any logging setting applies, so the
entry points have TensorFlow imported with that descriptor pointed at /dev/null, and set
TensorFlow's and absl's log levels so that later C++ INFO/WARNING lines stay quiet too.
The import itself is left to whatever needs TensorFlow first (an import hook), so
``--help``, ``zoo``, ``--print-config`` and argument errors answer without loading it.
``verbose=True`` (``--verbose``) leaves everything as TensorFlow has it.
"""

import contextlib
import importlib.abc
import importlib.machinery
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


def _quiet_logs(tf) -> None:
    tf.get_logger().setLevel("ERROR")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with file descriptor 2 silenced."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _native_stderr_silenced():
            self._loader.exec_module(module)
        _quiet_logs(module)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, the usual way, and hands back a quiet loader for it."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real search below must not find us again
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


#: The backends Keras 3 has: what ``KERAS_BACKEND`` may name.
KERAS_BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")


def keras_backend_problem() -> str | None:
    """One line on what is wrong with ``KERAS_BACKEND``, or None; Keras itself would fail
    at its first import with a long traceback."""
    name = os.environ.get("KERAS_BACKEND")
    if not name or name in KERAS_BACKENDS:  # Keras ignores an empty value too
        return None
    return (f"KERAS_BACKEND={name!r} is not a Keras backend; expected one of "
            f"{', '.join(KERAS_BACKENDS)} (or leave it unset)")


def quiet_start(verbose: bool = False) -> None:
    """Have TensorFlow imported without its start-up lines (unless ``verbose``) whenever
    something first imports it; call it before anything imports TensorFlow or Keras."""
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())

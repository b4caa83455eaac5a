"""Shared test setup: quiet TensorFlow, the TF backend, and the shared real-data folder."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Caches (the measured fast_predict modes, converted checkpoints) stay out of $HOME.
os.environ.setdefault("VIDEOMAE_TF_CACHE", tempfile.mkdtemp(prefix="videomae_tf_cache_"))
# JAX keeps what it compiles for the session, its subprocesses included: the tiny models are
# compiled again and again (each Trainer, each child process), and XLA compilation was 53 s
# of the 93 s of test_jax_training's data-parallel child; with the cache it runs in 28 s.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="videomae_tf_jax_cache_"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import pytest  # noqa: E402

import videomae_tf  # noqa: E402,F401 - its CPU defaults (oneDNN) before any test loads TensorFlow

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def synthetic_videos(tmp_path_factory):
    """The small synthetic dataset, rendered once per session and only read: 2 training
    and 1 validation video per class (24 videos), the paths of ``make_synthetic_dataset``."""
    from videomae_tf.data import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic_videos"),
                                  num_train_per_class=2, num_val_per_class=1, seed=0)


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory):
    """The synthetic recipe trained once per session (about 2 CPU minutes): (config,
    summary, seconds). The accuracy tests check it; the MA-52 test starts from it."""
    import time

    from videomae_tf.training import finetune
    from videomae_tf.config import get_recipe

    tmp_path = tmp_path_factory.mktemp("synthetic_run")
    config = get_recipe("synthetic")
    config["data"]["root"] = str(tmp_path / "synthetic")
    config.update(output_dir=str(tmp_path / "run"), progress=False, seed=0, resume=False)
    start = time.monotonic()
    summary = finetune(config)
    return config, summary, time.monotonic() - start


@pytest.fixture(scope="session")
def shared_data():
    """The ../shared/data folder of real videos and label maps, or a skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (../shared is absent)")
    return SHARED_DATA


#: The tests whose work is done by the processes they start (node id prefixes).
CHILD_PROCESS_TESTS = (
    "tests/training/test_multiworker.py::",
    "tests/training/test_jax_training.py::",
    "tests/training/test_distributed.py::",
    "tests/training/test_resume.py::test_sigkill",
    "tests/models/test_backends.py::",
    "tests/notebooks/test_notebooks.py::test_notebook_runs_in_quick_mode",
    "tests/bad_inputs/test_full_disk.py::",
    "tests/test_output.py::test_a_finetune_logged_to_a_file_reads_top_to_bottom",
    "tests/test_output.py::test_the_start_is_quiet",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``-n 2 --dist loadgroup`` (``make test``) runs the suite in two lanes: the
    ``CHILD_PROCESS_TESTS`` one after another on one worker, every other test on the other.
    The multi-process tests then never meet each other (their collective timeouts allow for
    a busy core, not for a machine full of their own kind), and the in-process tests use the
    core their children leave. (xdist's own loadgroup marks do not reach its scheduler
    under pytest 9.2, which keeps node ids elsewhere.) Other ``--dist`` modes are xdist's."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Lanes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "child_processes" if nodeid.startswith(CHILD_PROCESS_TESTS) else "in_process"

    return Lanes(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Refuse a ``CHILD_PROCESS_TESTS`` prefix that names no test of a collected file (or
    no file): a renamed test would otherwise drop quietly into the in-process lane, where
    it still passes but meets the other multi-process tests. Runs before ``-k`` / ``-m``
    deselect anything."""
    ids = [item.nodeid for item in items]
    for prefix in CHILD_PROCESS_TESTS:
        path = prefix.split("::")[0]
        if not (config.rootpath / path).is_file():
            raise pytest.UsageError(f"CHILD_PROCESS_TESTS (tests/conftest.py) names {path}: "
                                    "no such file")
        in_file = [i for i in ids if i.startswith(path + "::")]
        if in_file and not any(i.startswith(prefix) for i in in_file):
            raise pytest.UsageError(f"CHILD_PROCESS_TESTS (tests/conftest.py) names {prefix!r}: "
                                    f"no test of {path} starts so")

"""The test suite as a package: helpers are imported by their full name from the repository
root, e.g. ``from tests.tiny_configs import TINY`` or
``from tests.convert import convert_helpers`` (setup.cfg puts the root on pytest's
``pythonpath``; a test's subprocess gets it through ``PYTHONPATH``)."""

#: XLA flags the suite runs with (tests/conftest.py), children and notebook kernels included.
FAST_XLA_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"

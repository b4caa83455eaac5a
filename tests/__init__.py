"""The test suite as a package: helpers are imported by their full name from the repository
root, e.g. ``from tests.tiny_configs import TINY`` or
``from tests.convert import convert_helpers`` (setup.cfg puts the root on pytest's
``pythonpath``; a test's subprocess gets it through ``PYTHONPATH``)."""

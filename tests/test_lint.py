"""The code passes ruff with the configuration in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ["videomae_tf", "checkpoints_convert", "tests", "benchmarks"]


def _ruff():
    """ruff next to this interpreter (the venv's), else on PATH, else None."""
    here = Path(sys.executable).with_name("ruff")
    return str(here) if here.is_file() else shutil.which("ruff")


def test_ruff_is_clean():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    done = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", *FOLDERS],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"ruff found problems:\n{done.stdout}{done.stderr}", pytrace=False)

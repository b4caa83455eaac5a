"""The tutorial notebooks (notebooks/*.ipynb) run top to bottom in quick mode, and are
stored clean: no outputs, no execution counts, a Colab badge that opens the file itself.

Each notebook is executed with nbclient in a fresh kernel (the python3 kernel of this
interpreter), in a temporary working directory, with ``VIDEOMAE_TF_QUICK=1`` (tiny
models, synthetic data: each one well under three minutes on two CPU cores) and without
``KERAS_BACKEND``: a notebook that needs a backend sets it itself, before importing Keras.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_inference.ipynb", "02_finetune.ipynb", "03_pretrain.ipynb", "04_tpu_pod.ipynb"]
CELL_TIMEOUT = 300  # seconds per cell
COLAB = "https://colab.research.google.com/github/videomae-tf/videomae_tf/blob/main/notebooks/"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: Environment variables that would change what a notebook does, and are its own business.
NOT_INHERITED = ("KERAS_BACKEND", "XLA_FLAGS", "TF_CONFIG")
PROBE = ("import json, os, sys\n"
         "print('KERNEL ' + json.dumps({'executable': sys.executable, 'prefix': sys.prefix,\n"
         "      'keras_backend': os.environ.get('KERAS_BACKEND'), 'cwd': os.getcwd()}))")


def ids(paths):
    return [p.name for p in paths]


def test_the_tutorial_notebooks_are_there():
    missing = sorted(set(EXPECTED) - {p.name for p in NOTEBOOKS})
    assert not missing, f"notebooks missing from {NOTEBOOK_DIR}: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs or execution counts; clear them"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_has_its_own_colab_badge(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{path.name}: the first cell must be markdown"
    links = re.findall(r"\[!\[Open In Colab\]\((\S+)\)\]\((\S+)\)", first.source)
    assert links, f"{path.name}: no 'Open In Colab' badge in the first cell"
    assert links[0] == (BADGE, COLAB + path.name), links[0]


def plain(error):
    """An nbclient error's text without the terminal colour codes of IPython's traceback."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(error))


def kernel_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(
        VIDEOMAE_TF_QUICK="1",
        HF_HUB_OFFLINE="1",  # quick mode downloads nothing; make any attempt fail fast
        VIDEOMAE_TF_CACHE=str(tmp_path / "cache"),
        KERAS_HOME=str(tmp_path / "keras"),  # no ~/.keras/keras.json choosing a backend
        TMPDIR=str(tmp_path / "tmp"),  # the notebooks' tempfile folders end up here
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    )
    (tmp_path / "tmp").mkdir()
    return env


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_runs_in_quick_mode(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell(PROBE)
    probe["id"] = "test-probe"
    nb.cells.insert(0, probe)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(cwd)}})
    started = time.monotonic()
    try:
        client.execute(env=kernel_env(tmp_path), cwd=str(cwd))
    except nbclient.exceptions.CellExecutionError as e:  # the cell's source and traceback
        pytest.fail(f"{path.name}: a cell raised\n{plain(e)}", pytrace=False)
    except nbclient.exceptions.CellTimeoutError as e:
        pytest.fail(f"{path.name}: a cell ran past {CELL_TIMEOUT} s\n{plain(e)}", pytrace=False)
    seconds = time.monotonic() - started
    print(f"{path.name}: {seconds:.0f} s in quick mode")

    line = next(o["text"] for o in nb.cells[0].outputs if o.get("name") == "stdout")
    kernel = json.loads(line.split("KERNEL ", 1)[1])
    assert kernel["executable"] == sys.executable, "the kernel is not this interpreter"
    assert kernel["prefix"] == sys.prefix, "the kernel runs outside this environment"
    assert kernel["keras_backend"] is None, "KERAS_BACKEND leaked into the kernel"
    assert Path(kernel["cwd"]).resolve() == cwd.resolve()
    assert not list(cwd.iterdir()), f"{path.name} wrote into its working directory"
    errors = [o for cell in nb.cells for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors

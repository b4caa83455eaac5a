"""README.md stays true to the tree: its Layout section names every module."""

import re

from tests.conftest import REPO

PATH = re.compile(r"\b((?:videomae_tf|checkpoints_convert|docs|notebooks|benchmarks|tests)/[\w/]*(?:\.py)?)")


def _layout_entries() -> dict[str, str]:
    """{path named at a line start or after two spaces: the text until the next path}."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    pieces = PATH.split(block)
    return {pieces[i]: pieces[i + 1] for i in range(1, len(pieces) - 1, 2)}


def _modules(folder):
    return sorted(p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__"))


def test_layout_names_every_module_and_nothing_that_is_gone():
    entries = _layout_entries()
    for path in entries:
        assert (REPO / path).exists(), f"README Layout names {path}, which does not exist"
    for package in ("videomae_tf", "checkpoints_convert"):
        root = REPO / package
        for module in _modules(root):
            if package == "videomae_tf":
                assert f"videomae_tf/{module}.py" in entries, f"Layout lacks videomae_tf/{module}.py"
        folders = [root] if package == "checkpoints_convert" else sorted(
            p.parent for p in root.glob("*/**/__init__.py"))
        for folder in folders:
            key = folder.relative_to(REPO).as_posix() + "/"
            assert key in entries, f"Layout lacks {key}"
            words = set(re.findall(r"\w+", entries[key]))
            missing = [m for m in _modules(folder) if m not in words]
            assert not missing, f"Layout's {key} line does not name {missing}"

"""Where and how the benchmark scripts write their JSON results."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """What the numbers were measured on."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}


def write_report(path, result: dict) -> None:
    """``result`` as indented JSON at ``path`` (folders made), and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")

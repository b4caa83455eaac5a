"""What the benchmark scripts share: machine info, alternating timing, JSON results."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_seconds() -> float:
    """CPU time this process has used (user + system), for the per-core rates."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rate_row(made: int, wall: float, used: float) -> dict:
    """A throughput row: clips made in ``wall`` seconds using ``used`` CPU-seconds."""
    return {"clips": made, "seconds": round(wall, 2), "cpu_seconds": round(used, 2),
            "clips_per_s": round(made / wall, 2), "clips_per_cpu_s": round(made / used, 2)}


def machine() -> dict:
    """What the numbers were measured on: cores, platform, and the CPU's model and the
    features that decide which kernels win (``videomae_tf.cpu``)."""
    from videomae_tf.cpu import cpu_info, has_bf16_units, onednn_setting

    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "cpu": cpu_info(),
            "bf16_units": has_bf16_units(), "tf_enable_onednn_opts": onednn_setting()}


def alternating_times(calls: dict[str, Callable[[], object]], repeats: int,
                      warmup: int = 1) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(warm-up seconds, timed seconds) per call name.

    Each call runs ``warmup`` times (compilation lands there), then ``repeats`` rounds
    call every name once, the starting one rotating from round to round, so that machine
    noise (other processes on the CPU) and order effects hit every contender alike.
    """
    names = list(calls)
    first = {name: [] for name in names}
    for name in names:
        for _ in range(warmup):
            first[name].append(seconds_of(calls[name]))
    times = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(seconds_of(calls[name]))
    return first, times


def seconds_of(call: Callable[[], object]) -> float:
    """Wall-clock seconds of one ``call()``."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def write_report(path, result: dict) -> None:
    """``result`` as indented JSON at ``path`` (folders made), and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")

"""What CPU this is: its model and the instruction-set features that decide which kernels
run fastest (AVX2, AVX-512, bf16 units). Benchmarks record it beside every number, and the
measured choice of ``models.fast`` is cached under it."""

from __future__ import annotations

import functools
import os
import platform
import sys

__all__ = ["KERNEL_FLAGS", "ONEDNN_ENV", "cpu_info", "has_bf16_units", "onednn_setting",
           "prefer_onednn"]

#: TensorFlow's switch for its oneDNN kernels (read once, when TensorFlow is imported).
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"

#: The ``/proc/cpuinfo`` flags that change which matmul and attention kernels win.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")


@functools.lru_cache(maxsize=None)
def cpu_info() -> dict:
    """``{"model": name, "machine": arch, "flags": [the KERNEL_FLAGS this CPU has]}``
    (flags from ``/proc/cpuinfo`` on Linux, empty elsewhere)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key in ("flags", "Features"):
                    flags.update(value.split())
                if key == "" and flags:  # the first processor's block is enough
                    break
    except OSError:
        pass
    return {"model": model, "machine": platform.machine(),
            "flags": [flag for flag in KERNEL_FLAGS if flag in flags]}


def has_bf16_units() -> bool:
    """Whether the CPU computes bf16 products natively (AMX-BF16 or AVX512-BF16)."""
    return bool({"amx_bf16", "avx512_bf16"} & set(cpu_info()["flags"]))


def prefer_onednn() -> None:
    """Turn on TensorFlow's oneDNN CPU kernels on every x86-64 CPU, unless the user chose
    (``TF_ENABLE_ONEDNN_OPTS`` set) or TensorFlow is already imported (too late then).

    TensorFlow turns them on by itself only on CPUs with AVX512-VNNI or newer. On a 2-core
    AVX2-only AMD EPYC (Zen 3) they make ViT-S fp32 ``model.predict`` 1.05x faster at
    batch 1 and 1.51x at batch 4, the plain graph 1.08x / 1.56x, XLA unchanged
    (``benchmarks/inference.py``, its ``_onednn_on`` rows). ``import videomae_tf`` calls this.
    """
    if "tensorflow" in sys.modules or platform.machine().lower() not in ("x86_64", "amd64"):
        return
    os.environ.setdefault(ONEDNN_ENV, "1")


def onednn_setting() -> str:
    """``TF_ENABLE_ONEDNN_OPTS`` as this process has it ("" where unset: TensorFlow's own
    rule by CPU), for benchmark records and the fast-mode cache key."""
    return os.environ.get(ONEDNN_ENV, "")

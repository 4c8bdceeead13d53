"""What this machine computes with: CPU model, BLAS library and kernel, SIMD levels.

Generated data must be byte-identical on every CPU, and training results may differ in the
last bits between CPUs. When a pinned hash or a number fails on another machine, these
lines say what that machine ran: the CPU's model, the BLAS library and the kernel it
picked (threadpoolctl), numpy's SIMD extensions and torch's CPU capability.

    python -m benchmarks.machine        # what .ci/run prints before the tests
"""
from __future__ import annotations

import os
import platform

import numpy as np
import torch

from training.core import cli


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_kernels() -> list[str]:
    """Each BLAS library loaded in this process, its version, kernel and thread count."""
    from threadpoolctl import threadpool_info  # a scikit-learn dependency
    return [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '?')} kernel, "
            f"{i.get('num_threads')} threads, {os.path.basename(i.get('filepath', ''))})"
            for i in threadpool_info() if i.get("user_api") == "blas"]


def numpy_simd() -> str:
    """numpy's baseline SIMD level and those of its dispatch targets this CPU runs."""
    try:
        from numpy._core._multiarray_umath import (__cpu_baseline__, __cpu_dispatch__,
                                                   __cpu_features__)
    except ImportError:  # numpy < 2
        return "SIMD unknown"
    used = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
    return (f"SIMD baseline {','.join(__cpu_baseline__)}, dispatch to "
            f"{','.join(used) or 'none'} (of {','.join(__cpu_dispatch__)})")


def numerics_lines() -> list[str]:
    """The lines that name this machine's arithmetic, for failure messages and logs."""
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS",
                                      "ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES")
           if k in os.environ}
    return [f"cpu: {cpu_model()} ({os.cpu_count()} cores, {platform.machine()})",
            *(f"blas: {line}" for line in blas_kernels() or ["none loaded"]),
            f"numpy {np.__version__}: {numpy_simd()}",
            f"torch {torch.__version__}: cpu capability {torch.backends.cpu.get_cpu_capability()}, "
            f"{torch.get_num_threads()} threads",
            f"environment: {env or 'no OPENBLAS_/ATEN_/NPY_ overrides'}"]


@cli.command(returns_status=True)
def main(argv: list[str] | None = None) -> int:
    cli.parser("benchmarks.machine", __doc__,
               example="python -m benchmarks.machine").parse_args(argv)
    print("\n".join(numerics_lines()))
    return 0

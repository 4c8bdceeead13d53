"""``python -m benchmarks.machine``: the command users type; its code is
``benchmarks.core.machine`` (what every product shares).

What this machine computes with: CPU model, BLAS library and kernel, SIMD levels.
"""
from benchmarks.core.machine import main

if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m benchmarks.throughput``: the command users type; its code is
``benchmarks.speed.throughput`` (throughput and overhead).

Env training throughput vs a plain hand-written PyTorch loop, side by side in one process.
"""
from benchmarks.speed.throughput import main

if __name__ == "__main__":
    main()

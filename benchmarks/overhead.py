"""``python -m benchmarks.overhead``: the command users type; its code is
``benchmarks.speed.overhead`` (throughput and overhead).

The agents' share of wall time on the default run: acting, learning, curiosity.
"""
from benchmarks.speed.overhead import main

if __name__ == "__main__":
    main()

"""``python -m benchmarks.credit_assignment``: the command users type; its code is
``benchmarks.paper.credit_assignment`` (the seed paper's ablations and peers).

Steps to the optimal joint action on a cooperative game with a known reward: ma2ml vs the rest.
"""
from benchmarks.paper.credit_assignment import main

if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m benchmarks.ablations``: the command users type; its code is
``benchmarks.paper.ablations`` (the seed paper's ablations and peers).

The MAT-Agent ablation table, scripted: which agents (and which reward) the result needs.
"""
from benchmarks.paper.ablations import main

if __name__ == "__main__":
    main()

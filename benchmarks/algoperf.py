"""``python -m benchmarks.algoperf``: the command users type; its code is
``benchmarks.ranking.algoperf`` (the protocol and leaderboard).

AlgoPerf's scoring on this project's targets: time to a fixed val-mAP target, performance ratios
and profiles, and the integrated score, self-tuning and external-tuning tracks apart.
"""
from benchmarks.ranking.algoperf import main

if __name__ == "__main__":
    main()

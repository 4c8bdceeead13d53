"""``python -m benchmarks.zero_shot``: the command users type; its code is
``benchmarks.ranking.zero_shot`` (the protocol and leaderboard).

Zero-shot: do meta-trained controllers, frozen, beat static recipes on tasks they never saw?
"""
from benchmarks.ranking.zero_shot import main

if __name__ == "__main__":
    main()

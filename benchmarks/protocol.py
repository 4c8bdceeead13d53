"""``python -m benchmarks.protocol``: the command users type; its code is
``benchmarks.ranking.protocol`` (the protocol and leaderboard).

The protocol: one command that puts any controller on the leaderboard, under fixed rules.
"""
from benchmarks.ranking.protocol import main

if __name__ == "__main__":
    main()

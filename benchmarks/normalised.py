"""``python -m benchmarks.normalised``: the command users type; its code is
``benchmarks.ranking.normalised`` (the protocol and leaderboard).

How much of the SBS-to-expert gap does a 1x controller close? ASlib's normalised score.
"""
from benchmarks.ranking.normalised import main

if __name__ == "__main__":
    main()

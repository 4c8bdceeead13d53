"""``python -m benchmarks.first_decisions``: the command users type; its code is
``benchmarks.ranking.first_decisions`` (the protocol and leaderboard).

First decisions: how much of a controller's gain over the SBS its first recipe wins, and how
much its later switches add.
"""
from benchmarks.ranking.first_decisions import main

if __name__ == "__main__":
    main()

"""``python -m benchmarks.user_loop``: the command users type; its code is
``benchmarks.ranking.user_loop`` (the protocol and leaderboard).

Does a zoo controller help inside a user's own training loop, on a model it never saw?
"""
from benchmarks.ranking.user_loop import main

if __name__ == "__main__":
    main()

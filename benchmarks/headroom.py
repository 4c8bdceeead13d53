"""``python -m benchmarks.headroom``: the command users type; its code is
``benchmarks.expert.headroom`` (the search expert and headroom).

How much can control win? Each task's headroom: the rollout expert against static recipes.
"""
from benchmarks.expert.headroom import main

if __name__ == "__main__":
    main()

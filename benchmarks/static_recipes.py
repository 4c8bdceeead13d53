"""``python -m benchmarks.static_recipes``: the command users type; its code is
``benchmarks.expert.static_recipes`` (the search expert and headroom).

How much the recipe matters: static recipes trained to the full budget on one env.
"""
from benchmarks.expert.static_recipes import main

if __name__ == "__main__":
    main()

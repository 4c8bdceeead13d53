"""``python -m benchmarks.budgets``: the command users type; its code is
``benchmarks.expert.budgets`` (the search expert and headroom).

What changes with the budget: static recipes and a controller on ``make run``'s data, at several
budgets.
"""
from benchmarks.expert.budgets import main

if __name__ == "__main__":
    main()

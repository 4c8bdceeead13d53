"""``python -m benchmarks.task_sets``: the command users type; its code is
``benchmarks.expert.task_sets`` (the search expert and headroom).

Calibration of a task set: is every task cheap, sensitive to the recipe, and different?
"""
from benchmarks.expert.task_sets import main

if __name__ == "__main__":
    main()

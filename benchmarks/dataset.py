"""``python -m benchmarks.dataset``: the command users type; its code is
``benchmarks.offline.dataset`` (the dataset and the surrogate).

Real training-control transitions, collected and exported as a Minari dataset.
"""
from benchmarks.offline.dataset import main

if __name__ == "__main__":
    main()

"""``python -m benchmarks.surrogate``: the command users type; its code is
``benchmarks.offline.surrogate`` (the dataset and the surrogate).

Fit ``mlic-surrogate-v0`` on the real transitions, measure its fidelity, train on it.
"""
from benchmarks.offline.surrogate import main

if __name__ == "__main__":
    main()

"""``python -m benchmarks.learner_curves``: the command users type; its code is
``benchmarks.paper.learner_curves`` (the seed paper's ablations and peers).

Each learner's held-out curve, from its run's ``summary.json``: does more fitting help?
"""
from benchmarks.paper.learner_curves import main

if __name__ == "__main__":
    main()

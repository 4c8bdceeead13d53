"""``python -m benchmarks.peers``: the command users type; its code is
``benchmarks.paper.peers`` (the seed paper's ablations and peers).

The agents against hyperparameter-search peers at the same training compute.
"""
from benchmarks.paper.peers import main

if __name__ == "__main__":
    main()

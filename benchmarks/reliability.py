"""``python -m benchmarks.reliability``: the command users type; its code is
``benchmarks.quality.reliability`` (reliability and reproducibility).

The reliability table: every bad input and fault tried, what happened, and its test.
"""
import sys

from benchmarks.quality.reliability import main

if __name__ == "__main__":
    sys.exit(main())

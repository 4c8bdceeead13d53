"""``python -m benchmarks.data_fingerprints``: the command users type; its code is
``benchmarks.quality.data_fingerprints`` (reliability and reproducibility).

SHA-256 of every generated dataset and task, to check that a machine makes the same bytes.
"""
from benchmarks.quality.data_fingerprints import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Running controllers on environments: the ``run_marl`` CLI, its loop, logs, checkpoints and reports."""

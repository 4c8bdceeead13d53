"""How much control can win, and what the searches find: the rollout expert against static
recipes on every task (``python -m benchmarks.headroom``), with the searches over static
recipes it is compared to (``search``: random search and TPE; ``pbt``: Ray Tune PBT); the
static panel (``python -m benchmarks.static_recipes``), a task set's calibration on it
(``python -m benchmarks.task_sets``) and what changes with the budget
(``python -m benchmarks.budgets``)."""

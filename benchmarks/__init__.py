"""Scripted benchmark runs over envs + agents + training; results go to benchmarks/results/.

The commands users type sit at the top, each a thin ``python -m benchmarks.<command>`` entry
point; the code behind them is grouped by product:

* ``core``: what every product shares: one episode per run (``episodes``), the result files'
  header and tables (``common``), sweep reporting and plots, the machine (``machine``);
* ``paper``: the seed paper's ablations and peers (``ablations``, ``peers``,
  ``credit_assignment``, ``learner_curves``);
* ``expert``: the search expert and the headroom over static recipes (``headroom``,
  ``task_sets``, ``static_recipes``, ``budgets``; the searches ``search`` and ``pbt``);
* ``ranking``: the protocol and its leaderboard (``protocol``, ``zero_shot``, ``normalised``,
  ``algoperf``, ``user_loop``; the targets and their VBS, ``targets`` and ``vbs``);
* ``offline``: the real-transition dataset and the surrogate fitted on it (``dataset``,
  ``surrogate``);
* ``speed``: the env's throughput and the agents' overhead (``throughput``, ``overhead``);
* ``quality``: reliability and reproducibility: the bad-input corpus (``badinputs``) and its
  table (``reliability``), the data fingerprints (``data_fingerprints``), tiny datasets.
"""

"""The protocol and its leaderboard: one command that puts any controller on the leaderboard
under fixed rules (``python -m benchmarks.protocol``; ``leaderboard`` scores and writes it),
frozen controllers on unseen targets (``python -m benchmarks.zero_shot``), the normalised
score (``python -m benchmarks.normalised``), AlgoPerf's time-to-target score
(``python -m benchmarks.algoperf``) and a zoo controller inside a user's own training loop
(``python -m benchmarks.user_loop``). The targets every row is played on (``targets``) and
each target's best static recipe in hindsight (``vbs``) are read by all of them; SB3 on the
joint view (``sb3_joint``) and the controllers' choice maps (``choice_maps``) are the
protocol's and zero-shot's."""

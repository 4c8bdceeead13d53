"""The seed paper's experiments, scripted: MAT-Agent's ablation table
(``python -m benchmarks.ablations``), the agents against hyperparameter-search peers at the
same compute (``python -m benchmarks.peers``, reported by ``peers_report``), credit assignment
on a cooperative game with a known reward (``python -m benchmarks.credit_assignment``) and
each learner's held-out curve (``python -m benchmarks.learner_curves``)."""

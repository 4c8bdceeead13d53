"""Offline data and the surrogate env: real training-control transitions collected and
exported as a Minari dataset (``python -m benchmarks.dataset collect|export``), and
``mlic-surrogate-v0`` fitted on them, its fidelity measured and controllers trained on it
(``python -m benchmarks.surrogate fit|fidelity|train``; the data and the fit are
``surrogate_fit``)."""

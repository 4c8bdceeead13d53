"""Speed: the env's training throughput against a plain hand-written PyTorch loop
(``python -m benchmarks.throughput``) and the agents' share of a run's wall time
(``python -m benchmarks.overhead``)."""

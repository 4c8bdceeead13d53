"""Scripted benchmark runs over envs + agents + training; results go to benchmarks/results/."""

"""What every product of ``training`` shares: the episode driver and its callbacks, the run's
config and flags, logs, checkpoints, stop signals and the run store that sweeps resume from."""

"""Dynamic recipes in your own training loop: ``from training.user_loop import DynamicRecipe``.

``dynamic`` holds the integration; ``lightning`` the same as a PyTorch Lightning callback
(the ``lightning`` extra), imported from ``training.user_loop.lightning`` so that this package
never needs Lightning.
"""
from training.user_loop.dynamic import (Decision, DynamicRecipe, UserLoopError, channel_stats,
                                        split_loader)

__all__ = ["Decision", "DynamicRecipe", "UserLoopError", "channel_stats", "split_loader"]

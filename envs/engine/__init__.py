"""The pure-torch MLIC training engine (data, models, augmentation, losses, optimizers, schedules, metrics, trainer). It knows nothing of RL."""

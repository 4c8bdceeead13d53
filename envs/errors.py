"""Exception classes raised by the environment and its training engine.

Every error a user can cause (bad data, a bad id, a bad action, a bad config) is
raised as one of these, with a message that names the problem and the fix.
They subclass the closest built-in exception so ``except ValueError`` style
handlers keep working.
"""
from __future__ import annotations


class MLICError(Exception):
    """Base class of every error this project raises on purpose."""


class UnknownEnvError(MLICError, KeyError):
    """An env id (or dataset name) that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(MLICError, FileNotFoundError):
    """The dataset's files are not where we looked."""


class DatasetFormatError(MLICError, ValueError):
    """The dataset exists but does not follow the expected on-disk format."""


class DependencyNotInstalledError(MLICError, ImportError):
    """An optional package a dataset needs is missing (cf. Gymnasium's ``DependencyNotInstalled``);
    the message names the install command."""


class CorruptImageError(DatasetFormatError):
    """An image file cannot be decoded."""


class InvalidActionError(MLICError, ValueError):
    """An action that is missing, of the wrong type, or out of range."""


class ConfigError(MLICError, ValueError):
    """An invalid configuration value (size, batch size, unknown key, ...)."""


class CheckpointError(MLICError, RuntimeError):
    """A checkpoint that is missing, truncated or incompatible."""


class ResetNeededError(MLICError, RuntimeError):
    """An env used before ``reset()``, or stepped after its episode ended (cf. Gymnasium's
    ``ResetNeeded``)."""

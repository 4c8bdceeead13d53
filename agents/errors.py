"""Exceptions raised by the ``agents`` package.

All are ``ValueError`` subclasses, so a caller that validates user input can catch
``ValueError``; each names what was wrong and what would have been accepted.
"""
from __future__ import annotations


class AgentsError(ValueError):
    """Base class of every error raised by ``agents``."""


class UnknownAlgorithmError(AgentsError):
    """``make_controller`` was given an algorithm name that is not registered."""


class AgentConfigError(AgentsError):
    """A hyperparameter, a fixed choice or an environment space is invalid for a controller."""


class ControllerCheckpointError(AgentsError):
    """A saved controller or state dict does not fit the controller or env it is loaded into."""

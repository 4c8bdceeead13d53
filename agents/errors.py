"""Exceptions raised by the ``agents`` package.

All derive from the project's one root, ``envs.errors.MLICError`` (so ``except MLICError``
catches every error the project raises on purpose), and from ``ValueError``, so a caller
that validates user input can catch that; each names what was wrong and what would have
been accepted.
"""
from __future__ import annotations

from envs.errors import MLICError


class AgentsError(MLICError, ValueError):
    """Base class of every error raised by ``agents``."""


class UnknownAlgorithmError(AgentsError):
    """``make_controller`` was given an algorithm name that is not registered."""


class UnknownCuriosityError(AgentsError):
    """``make_curiosity`` (``--curiosity``) was given a curiosity module that does not exist."""


class AgentConfigError(AgentsError):
    """A hyperparameter, a fixed choice or an environment space is invalid for a controller."""


class BeginNeededError(AgentsError):
    """A controller that schedules over the run was asked to learn before ``begin(total_steps)``."""


class ControllerCheckpointError(AgentsError):
    """A saved controller or state dict does not fit the controller or env it is loaded into."""


class UnknownZooControllerError(AgentsError):
    """A ``zoo:<name>`` was asked for that the zoo (``agents/zoo/``) does not hold.

    Deliberately not a ``KeyError``: ``str(KeyError(msg))`` quotes the message, and this one
    lists the available names ready to paste.
    """

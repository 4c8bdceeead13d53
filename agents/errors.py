"""Exceptions raised by the ``agents`` package.

All derive from the project's one root, ``envs.errors.MLICError`` (so ``except MLICError``
catches every error the project raises on purpose), and from ``ValueError``, so a caller
that validates user input can catch that; each names what was wrong and what would have
been accepted.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


class EnvSettingsError(ControllerCheckpointError):
    """A saved controller needs env settings that the env it is loaded into does not have.

    ``mismatches`` says which (``agents.zoo.SettingMismatch``: the setting, the value the
    controller was trained with, the env's). ``message(wording)`` words them with an
    ``agents.zoo.Wording``: by default as ``envs.make`` keywords; a CLI passes one that names
    its flags (``training.run_marl``).
    """

    def __init__(self, label: str, mismatches: Sequence[Any]) -> None:
        self.label = label
        self.mismatches = tuple(mismatches)
        super().__init__(self.message())

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (e.g. across Ray) with its fields
        return type(self), (self.label, self.mismatches)

    def message(self, wording: Any = None) -> str:
        """The error's text in ``wording`` (an ``agents.zoo.Wording``; default: keywords)."""
        return (f"{self.label} does not fit this env: "
                + "; ".join(m.describe(wording) for m in self.mismatches)
                + ". Use the env settings the controller was trained with (its card.json "
                  "'env_settings'), or a controller trained for this env")


class UnknownZooControllerError(AgentsError):
    """A ``zoo:<name>`` was asked for that the zoo (``agents/zoo/``) does not hold.

    Deliberately not a ``KeyError``: ``str(KeyError(msg))`` quotes the message, and this one
    lists the available names ready to paste.
    """

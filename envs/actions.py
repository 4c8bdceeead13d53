"""Joint actions: their spaces, their validation, and the recipe they play.

A bad action is a user error, so it gets an :class:`envs.errors.InvalidActionError`
that names the agent, the value and the valid range, instead of an ``IndexError``
from deep inside the catalogue lookup.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.engine.recipe import LATEST_CATALOGUE, Recipe, catalogue
from envs.errors import InvalidActionError


def validate_actions(actions: Any, agents: Sequence[str],
                     action_spaces: Mapping[str, spaces.Discrete]) -> dict[str, int]:
    """Check ``actions`` (one int per active agent) and return them as plain ints."""
    if not isinstance(actions, Mapping):
        raise InvalidActionError(
            f"actions must be a dict mapping each agent to an int, got {type(actions).__name__}; "
            f"expected keys {list(agents)}")
    extra = [a for a in actions if a not in agents]
    if extra:
        raise InvalidActionError(
            f"actions given for agents {extra} that are not active; active agents: {list(agents)}")
    return {agent: _check_one(agent, actions, action_spaces[agent]) for agent in agents}


def _check_one(agent: str, actions: Mapping[str, Any], space: spaces.Discrete) -> int:
    n = int(space.n)
    valid = f"an int in [0, {n - 1}]"
    if agent not in actions:
        raise InvalidActionError(f"no action for agent {agent!r}: expected {valid}")
    value = actions[agent]
    if isinstance(value, np.ndarray) and value.shape in ((), (1,)):
        value = value.reshape(()).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        shown = "NaN" if isinstance(value, float) and math.isnan(value) else repr(value)
        raise InvalidActionError(
            f"action for agent {agent!r} is {shown} of type {type(value).__name__}: expected {valid}")
    if not 0 <= int(value) < n:
        raise InvalidActionError(f"action {int(value)} for agent {agent!r} is out of range: expected {valid}")
    return int(value)


def action_spaces(agents: Sequence[str], name: str = LATEST_CATALOGUE) -> dict[str, spaces.Discrete]:
    """Each agent's action space: one ``Discrete`` over its component's choices in catalogue
    ``name``."""
    choices = catalogue(name)
    return {a: spaces.Discrete(len(choices[a])) for a in agents}


def actions_recipe(actions: Mapping[str, int], base: Recipe,
                   name: str = LATEST_CATALOGUE) -> Recipe:
    """The recipe ``actions`` (checked ints, one per agent) play in catalogue ``name``:
    ``base`` with each agent's component set to its choice (components without an agent keep
    ``base``'s)."""
    choices = catalogue(name)
    recipe = base
    for agent, action in actions.items():
        recipe = recipe.with_choice(agent, choices[agent][action])
    return recipe


def recipe_actions(env: Any, recipe: Any) -> dict[str, int]:
    """The action of every agent of ``env`` that plays ``recipe`` (an ``envs.Recipe``).

    ``env`` is an ``MLICTrainingEnv`` or any wrapper of one (it needs ``possible_agents``
    and ``action_names(agent)``); this is the one place a recipe becomes action indices.
    """
    names = {a: list(env.action_names(a)) for a in env.possible_agents}
    missing = {a: getattr(recipe, a) for a in names if getattr(recipe, a) not in names[a]}
    if missing:
        raise InvalidActionError(f"recipe {recipe} has choices {missing} that are not in the "
                                 f"catalogues {names}")
    return {a: names[a].index(getattr(recipe, a)) for a in names}

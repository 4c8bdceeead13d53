"""Controllers that reconfigure a training run through the PettingZoo ParallelEnv API.

Public API::

    from agents import make_controller, load_controller, Transition, ALGORITHMS
    controller = make_controller("mat-dqn", env, seed=0)
    controller.begin(total_steps=100)                    # the run ahead
    actions = controller.act(observations)
    logs = controller.observe(Transition(obs, actions, rewards, next_obs, terms, truncs, infos))
    controller.save(directory); load_controller(directory, env, seed=0)
    make_controller("zoo:<name>", env, seed=0)   # a pretrained controller, frozen (agents.zoo)

    from agents.rewards import shape_rewards, make_curiosity   # reward wrappers
    env = make_curiosity("rnd", env, seed=0, beta=0.05)

Layout: ``base`` (the ``Controller`` base class and ``Transition``), ``common`` (seeded
nets, replay buffers, checkpoint helpers), ``registry``, one module or subpackage per
algorithm (``mat_dqn``, ``ma2ml/``, ``baselines``), and ``rewards/`` (individual
rewards, curiosity). Controllers see only ``possible_agents`` and the spaces; this package never
imports ``envs.engine`` (and ``envs`` never imports ``agents``). ``mat_dqn`` and ``ma2ml``
are imported on first use. ``zoo/`` holds the pretrained controllers shipped with the
package (``agents.zoo.list_zoo()``).
"""
from __future__ import annotations

from typing import Any

from agents.base import Controller, Transition
from agents.baselines import (BanditConfig, BanditController, RandomConfig, RandomController,
                              StaticConfig, StaticController)
from agents.errors import (AgentConfigError, AgentsError, BeginNeededError,
                           ControllerCheckpointError, UnknownAlgorithmError, UnknownCuriosityError,
                           UnknownZooControllerError)
from agents.registry import ALGORITHMS, AlgorithmSpec, load_controller, make_controller, spec

_LAZY = {"MatDQNConfig": "agents.mat_dqn", "MatDQNController": "agents.mat_dqn",
         "MA2MLConfig": "agents.ma2ml", "MA2MLController": "agents.ma2ml",
         "MA2MLLiteConfig": "agents.ma2ml", "MA2MLLiteController": "agents.ma2ml"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")


__all__ = [
    "ALGORITHMS", "AgentConfigError", "AgentsError", "AlgorithmSpec", "BanditConfig",
    "BanditController", "BeginNeededError", "Controller", "ControllerCheckpointError",
    "MA2MLConfig", "MA2MLController", "MA2MLLiteConfig", "MA2MLLiteController", "MatDQNConfig",
    "MatDQNController", "RandomConfig", "RandomController", "StaticConfig", "StaticController",
    "Transition", "UnknownAlgorithmError", "UnknownCuriosityError", "UnknownZooControllerError",
    "load_controller",
    "make_controller", "spec",
]

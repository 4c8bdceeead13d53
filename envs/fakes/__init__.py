"""Cheap envs with a known reward, for testing controllers without training any classifier.

They speak the same PettingZoo ``ParallelEnv`` interface as ``envs.MLICTrainingEnv``
(agents ``aug``, ``opt``, ``lrs``, ``loss``; one shared observation and reward), but a
step costs microseconds and the best joint action is known in advance:

* :class:`CooperativeFakeEnv`: each agent's choices have fixed values, one clearly best.
* :class:`InteractionGameEnv`: additive per-agent terms plus an interaction bonus for one
  pair of choices, to test credit assignment (see :mod:`envs.fakes.interaction`).

``import envs`` does not import this package; import it by name.
"""
from envs.fakes.cooperative import CooperativeFakeEnv
from envs.fakes.interaction import InteractionGameEnv

__all__ = ["CooperativeFakeEnv", "InteractionGameEnv"]

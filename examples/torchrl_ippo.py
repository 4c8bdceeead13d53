"""TorchRL on the ParallelEnv itself: independent PPO, one actor and one critic per agent.

TorchRL's ``PettingZooWrapper`` turns the four agents into four groups (their action
spaces differ, so none are stacked): ``td[agent, "observation"]``, ``td[agent, "action"]``,
``td["next", agent, "reward"]``. Each group gets its own categorical actor, state-value
critic and ``ClipPPOLoss`` with GAE. A thin wrapper (``ValMapInfos``) adapts the env.

Optional dependency (CPU torch stays as it is)::

    pip install -c constraints.txt -e ".[torchrl]"      # torchrl 0.14.1, tensordict 0.14.3
    python examples/torchrl_ippo.py                      # 4 episodes of 25 decisions
"""
from __future__ import annotations

from typing import Any

import torch
from pettingzoo.utils.wrappers import BaseParallelWrapper
from tensordict.nn import TensorDictModule, TensorDictSequential
from torch.distributions import Categorical
from torchrl.collectors import Collector
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.envs.utils import ExplorationType, set_exploration_type
from torchrl.modules import MLP, ProbabilisticActor
from torchrl.objectives import ClipPPOLoss, ValueEstimators

import envs


class ValMapInfos(BaseParallelWrapper):
    """Makes the env fit TorchRL: flat ``infos`` (``{"val_map": mAP / 100}``), gradients on.

    TorchRL collects under ``torch.no_grad()``, but ``step`` trains a classifier, so it runs
    with gradients enabled again.
    """

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        observations, infos = self.env.reset(seed=seed, options=options)
        return observations, self._flat(infos)

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        with torch.enable_grad():
            observations, rewards, terminations, truncations, infos = self.env.step(actions)
        return observations, rewards, terminations, truncations, self._flat(infos)

    @staticmethod
    def _flat(infos: dict) -> dict:
        return {a: {"val_map": (i["metrics"]["mAP"] or 0.0) / 100.0} for a, i in infos.items()}


def agent_loss(env: PettingZooWrapper, agent: str) -> ClipPPOLoss:
    """Actor, critic and PPO loss of one group, all reading and writing under ``agent``."""
    n_obs = env.observation_spec[agent, "observation"].shape[-1]
    n_actions = env.full_action_spec[agent, "action"].space.n
    logits = TensorDictModule(MLP(in_features=n_obs, out_features=n_actions, num_cells=[64, 64]),
                              in_keys=[(agent, "observation")], out_keys=[(agent, "logits")])
    actor = ProbabilisticActor(logits, spec=env.full_action_spec[agent, "action"],
                               in_keys={"logits": (agent, "logits")}, out_keys=[(agent, "action")],
                               distribution_class=Categorical, return_log_prob=True,
                               log_prob_key=(agent, "log_prob"))
    critic = TensorDictModule(MLP(in_features=n_obs, out_features=1, num_cells=[64, 64]),
                              in_keys=[(agent, "observation")], out_keys=[(agent, "state_value")])
    loss = ClipPPOLoss(actor, critic, entropy_coeff=0.01, normalize_advantage=False)
    loss.set_keys(reward=(agent, "reward"), action=(agent, "action"),
                  sample_log_prob=(agent, "log_prob"), value=(agent, "state_value"),
                  done=(agent, "done"), terminated=(agent, "terminated"),
                  advantage=(agent, "advantage"), value_target=(agent, "value_target"))
    loss.make_value_estimator(ValueEstimators.GAE, gamma=0.5, lmbda=0.9)
    return loss


def main(total_frames: int = 100, frames_per_batch: int = 25, epochs: int = 4, seed: int = 0,
         env_id: str = "mlic-digits", **env_overrides: Any) -> dict[str, Any]:
    """Train for ``total_frames`` decisions, then play one greedy episode.

    ``env_overrides`` go to ``envs.make``. Returns the losses, the evaluation episode's
    joint actions and its final val mAP (0..1).
    """
    torch.manual_seed(seed)  # a script: TorchRL's modules draw their init from the global seed
    env = PettingZooWrapper(env=ValMapInfos(envs.make(env_id, **env_overrides)),
                            categorical_actions=True, seed=seed)
    losses = {agent: agent_loss(env, agent) for agent in env.group_map}
    policy = TensorDictSequential(*(loss.actor_network for loss in losses.values()))
    params = [p for loss in losses.values() for p in loss.parameters()]
    optimizer = torch.optim.Adam(params, lr=3e-4)
    collector = Collector(env, policy, frames_per_batch=frames_per_batch, total_frames=total_frames,
                          auto_register_policy_transforms=False)  # MLPs: no recurrent state
    for batch in collector:
        for _ in range(epochs):  # whole-batch epochs: the batches are one episode long
            total = torch.zeros(())
            for loss in losses.values():
                parts = loss(batch)  # GAE is recomputed from the current critic
                total = total + sum(parts[k] for k in ("loss_objective", "loss_critic",
                                                       "loss_entropy"))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
    collector.shutdown()
    with set_exploration_type(ExplorationType.DETERMINISTIC), torch.no_grad():
        episode = env.rollout(max_steps=10_000, policy=policy)
    first = next(iter(env.group_map))
    return {"loss": total.item(), "actions": {a: episode[a, "action"].flatten().tolist()
                                              for a in env.group_map},
            "val_map": float(episode["next", first, "info", "val_map"][-1])}


if __name__ == "__main__":
    out = main()
    print(f"final val mAP {100 * out['val_map']:.1f}; actions per agent {out['actions']}")

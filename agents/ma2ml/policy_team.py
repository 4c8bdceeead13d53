"""What ``ma2ml`` and ``ma2ml-lite`` share: per-agent softmax policies on one global state.

Both controllers give each agent its own policy ``pi_i(a_i | s)`` over the *global*
state ``s``, train it with a policy gradient plus an entropy bonus and a KL penalty
towards a slowly (polyak-) updated target policy, and read the team reward either from
the env (``"env"``) or from the validation mAP in ``infos`` (``"val_map"``). They differ
only in the advantage they feed the policies (see ``agents.ma2ml.critic`` / ``agents.ma2ml.lite``).

The global state is the shared observation: ``act`` only receives observations, and in
``MLICTrainingEnv`` (as in the test fakes) ``env.state()`` *is* the vector every agent
observes. Construction therefore fails unless every agent has the same observation space.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pettingzoo import ParallelEnv
from stable_baselines3.common.utils import polyak_update
from torch import nn

from agents.base import Controller, Observations, Transition
from agents.common import (as_state, joint_step, load_file, load_module, load_optimizer,
                           shared_state_dim, spawn_seeds)
from agents.errors import AgentConfigError
from envs.checks import require_choice, require_in_range, require_sizes
from agents.ma2ml.nets import entropy_and_kl, policy_net

SETTINGS = ("per-step", "pipeline")
REWARD_SOURCES = ("env", "val_map")
POLICIES_FILE = "policies.pt"


@dataclass(frozen=True)
class PolicyTeamConfig:
    """Fields shared by ``ma2ml`` and ``ma2ml-lite``, sized for episodes of ~25 decisions."""

    setting: str = "per-step"
    """"per-step": a decision at every env step (as MAT-Agent); "pipeline": one decision per
    episode, the env must end every episode after one step (``max_decisions=1``)."""
    reward_source: str | None = None
    """"env": the env's shared reward; "val_map": ``infos[agent]["metrics"]["mAP"] / 100``;
    None: "env" for per-step, "val_map" for pipeline."""
    gamma: float = 0.5
    """Discount, in [0, 1] (unused in pipeline, where every transition ends its episode)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of every network: ints in [1, inf) (a list is kept as a tuple)."""
    policy_lr: float = 3e-3
    """Adam learning rate of each policy, in (0, inf)."""
    entropy_coef: float = 0.01
    """Weight of the policies' entropy bonus, in [0, inf)."""
    kl_coef: float = 0.1
    """Weight of the KL(target policy || policy) penalty, the trust region: in [0, inf)."""
    policy_tau: float = 0.05
    """Polyak coefficient of the target policies, in (0, 1] (small: the trust region moves
    slowly)."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of every network, per agent, in (0, inf)."""

    def __post_init__(self) -> None:
        e = AgentConfigError
        require_choice("setting", self.setting, SETTINGS, e)
        if self.reward_source is not None and (not isinstance(self.reward_source, str)
                                               or self.reward_source not in REWARD_SOURCES):
            raise AgentConfigError(
                f"reward_source must be one of {REWARD_SOURCES} or None, "
                f"got {self.reward_source!r}")
        require_in_range("gamma", self.gamma, 0.0, 1.0, error=e)
        require_in_range("policy_tau", self.policy_tau, 0.0, 1.0, low_open=True, error=e)
        for name in ("policy_lr", "max_grad_norm"):
            require_in_range(name, getattr(self, name), 0.0, low_open=True, error=e)
        for name in ("entropy_coef", "kl_coef"):
            require_in_range(name, getattr(self, name), 0.0, error=e)
        object.__setattr__(self, "hidden", require_sizes("hidden", self.hidden, e))

    @property
    def rewards_from(self) -> str:
        """The reward source in force (``reward_source`` or the setting's default)."""
        if self.reward_source is not None:
            return self.reward_source
        return "val_map" if self.setting == "pipeline" else "env"


class PolicyTeamController(Controller):
    """Per-agent softmax policies with target copies, acting and the regularised policy step.

    Subclasses call ``super().__init__``, then build their own networks from
    ``self.seeds[2:]`` (``seeds[0]`` draws the policies, ``seeds[1]`` the acting generator).
    """

    def __init__(self, env: ParallelEnv, config: PolicyTeamConfig, seed: int) -> None:
        super().__init__(env, config)
        self.state_dim = shared_state_dim(env, self.agents, self.name)
        self.seeds = spawn_seeds(seed, 6)
        init = torch.Generator().manual_seed(self.seeds[0])
        c = self.config
        self.policies = nn.ModuleDict({a: policy_net(self.state_dim, n, c.hidden, init)
                                       for a, n in self.action_sizes.items()})
        self.policy_targets = copy.deepcopy(self.policies).requires_grad_(False)
        self.policy_optimizer = torch.optim.Adam(self.policies.parameters(), lr=c.policy_lr,
                                                 foreach=True)
        self.act_rng = np.random.default_rng(self.seeds[1])

    # ---------------------------------------------------------------- acting
    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        live = self.live(observations)
        if not live:
            return {}
        probs = self.action_probs(observations[live[0]])
        if not self.explores(training):
            return {a: int(np.argmax(probs[a])) for a in live}
        return {a: int(self.act_rng.choice(len(probs[a]), p=probs[a])) for a in live}

    def action_probs(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """Every agent's action distribution for one (shared) observation."""
        state = as_state(observation)
        with torch.no_grad():
            out = {a: torch.softmax(p(state), -1)[0].double().numpy()
                   for a, p in self.policies.items()}
        return {a: p / p.sum() for a, p in out.items()}

    def greedy_actions(self, observation: np.ndarray) -> dict[str, int]:
        """Each agent's most probable action for one (shared) observation."""
        return {a: int(np.argmax(p)) for a, p in self.action_probs(observation).items()}

    # -------------------------------------------------------------- learning
    def unpack(self, transition: Transition
               ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, bool]:
        """(state, joint action, team reward, next state, done) of one env step, validated.

        An episode end (termination *or* truncation) is final: in the MLIC env the
        budget is spent, and progress is part of the state. In the pipeline setting every
        step must end its episode.
        """
        t = transition
        state, joint, next_state = joint_step(t, self.agents, self.name)
        done = any(bool(t.terminations.get(a, False)) or bool(t.truncations.get(a, False))
                   for a in self.agents)
        if self.config.setting == "pipeline" and not done:
            raise AgentConfigError(
                "setting='pipeline' makes one decision per episode, but this step did not end "
                "the episode: build the env with max_decisions=1 (the CLI's --setting pipeline)")
        return state, joint, self.team_reward(t.rewards, t.infos), next_state, done

    def team_reward(self, rewards: Mapping[str, float], infos: Mapping[str, dict]) -> float:
        """The shared reward: the env's (mean over agents) or the val mAP in 0..1."""
        if self.config.rewards_from == "env":
            return float(np.mean([float(rewards[a]) for a in self.agents if a in rewards]))
        info = infos.get(self.agents[0], {})
        if "metrics" not in info or "mAP" not in info["metrics"]:
            raise AgentConfigError(
                "reward_source='val_map' reads infos[agent]['metrics']['mAP'] (0..100), which "
                f"this env does not provide (infos keys: {sorted(info)})")
        value = info["metrics"]["mAP"]
        return 0.0 if value is None else float(value) / 100.0  # None: mAP undefined (no positives)

    def policy_logits(self, states: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every agent's logits for a batch of states, with gradients (for ``policy_step``)."""
        return {a: p(states) for a, p in self.policies.items()}

    def policy_step(self, states: torch.Tensor, logits: Mapping[str, torch.Tensor],
                    surrogates: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of every policy, then a polyak step of the target policies.

        ``surrogates[agent]`` is, per row, the policy-gradient surrogate to maximise, built
        from ``logits`` (see ``policy_logits``); the entropy bonus and KL penalty are added
        here. The agents' parameters are disjoint, so one backward pass through the sum of
        their losses, one Adam and a per-agent gradient clip equal one optimizer per agent.
        """
        c, logs, total = self.config, {}, torch.zeros(())
        with torch.no_grad():
            targets = {a: p(states) for a, p in self.policy_targets.items()}
        for agent in self.agents:
            entropy, kl = entropy_and_kl(logits[agent], targets[agent])
            loss = (-surrogates[agent].mean() - c.entropy_coef * entropy.mean()
                    + c.kl_coef * kl.mean())
            total = total + loss
            logs.update({f"agent/{agent}/policy_loss": loss.item(),
                         f"agent/{agent}/entropy": entropy.mean().item(),
                         f"agent/{agent}/kl": kl.mean().item()})
        self.policy_optimizer.zero_grad()
        total.backward()
        for policy in self.policies.values():
            nn.utils.clip_grad_norm_(policy.parameters(), c.max_grad_norm, foreach=True)
        self.policy_optimizer.step()
        polyak_update(self.policies.parameters(), self.policy_targets.parameters(), c.policy_tau)
        return logs

    # ------------------------------------------------------------ checkpoint
    def policy_state(self) -> dict[str, Any]:
        return {"policies": copy.deepcopy(self.policies.state_dict()),
                "policy_targets": copy.deepcopy(self.policy_targets.state_dict()),
                "policy_optimizer": copy.deepcopy(self.policy_optimizer.state_dict())}

    def load_policy_state(self, state: Mapping[str, Any]) -> None:
        load_module(self.policies, state["policies"], "policies")
        load_module(self.policy_targets, state["policy_targets"], "target policies")
        load_optimizer(self.policy_optimizer, state["policy_optimizer"], "policy optimizer")

    def actor_state(self) -> dict[str, Any]:
        return {"policies": copy.deepcopy(self.policies.state_dict())}

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        load_module(self.policies, state["policies"], "policies")

    def save_policies(self, directory: Path) -> None:
        """``policies.pt``: policies, target policies and their optimizers (no generators)."""
        torch.save(self.policy_state(), Path(directory) / POLICIES_FILE)

    def load_policies(self, directory: Path) -> None:
        """Load what ``save_policies`` wrote."""
        self.load_policy_state(load_file(Path(directory) / POLICIES_FILE, "ma2ml controller"))

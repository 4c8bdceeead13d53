"""Networks of ``ma2ml``: per-agent softmax policies and a centralized joint-action critic.

The critic reads the global state concatenated with the one-hot of *every* agent's
action, ``Q(s, a_1..a_n)``. :meth:`JointCritic.counterfactual` evaluates, in one
forward pass, every joint action that differs from the replayed one in a single
agent's entry, which is what COMA's counterfactual baseline needs (Foerster et al.
2018, Sec. 4.2) without re-running the (expensive) training that produced the reward.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from agents.common import mlp

POLICY_HEAD_SCALE = 0.01
"""Policy output layers start this small so every policy starts close to uniform
(as PPO implementations do with a 0.01-gain last layer): early exploration is then
not decided by the random init."""


def policy_net(state_dim: int, n_actions: int, hidden: tuple[int, ...],
               generator: torch.Generator) -> nn.Sequential:
    """``pi_i(. | s)`` as logits: an MLP seeded by ``generator``, near-uniform at init."""
    net = mlp([state_dim, *hidden, n_actions], generator)
    with torch.no_grad():
        last = net[-1]
        assert isinstance(last, nn.Linear)
        last.weight.mul_(POLICY_HEAD_SCALE)
        last.bias.zero_()
    return net


def entropy_and_kl(logits: torch.Tensor, target_logits: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row entropy of ``softmax(logits)`` and ``KL(target || current)``.

    The KL is taken from the slow target policy to the current one, as PPO's adaptive-KL
    variant does (Schulman et al. 2017, Sec. 4), so the penalty grows wherever the current
    policy drops actions the target still plays.
    """
    logp = F.log_softmax(logits, dim=-1)
    entropy = -(logp.exp() * logp).sum(-1)
    target_logp = F.log_softmax(target_logits, dim=-1)
    kl = (target_logp.exp() * (target_logp - logp)).sum(-1)
    return entropy, kl


class JointCritic(nn.Module):
    """``Q(s, a)`` over the global state and the concatenated one-hots of the joint action.

    Args:
        state_dim: length of the global state.
        sizes: number of actions of each agent, in the controller's agent order.
        hidden: hidden layer sizes.
        generator: seeds the weights.
    """

    def __init__(self, state_dim: int, sizes: list[int], hidden: tuple[int, ...],
                 generator: torch.Generator) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.net = mlp([state_dim + sum(sizes), *hidden, 1], generator)
        offsets = torch.tensor([0, *self.sizes[:-1]]).cumsum(0)
        total = sum(self.sizes)
        owner = torch.repeat_interleave(torch.arange(len(self.sizes)), torch.tensor(self.sizes))
        # Row r of the counterfactual block stands for "the agent owning one-hot column r
        # plays the action of column r": keep the others' columns, put a 1 at column r.
        same_agent = (owner[:, None] == owner[None, :]).float()
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("keep", 1.0 - same_agent, persistent=False)
        self.register_buffer("eye", torch.eye(total), persistent=False)

    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        """(B, n_agents) int64 joint actions -> (B, sum(sizes)) concatenated one-hots."""
        onehot = torch.zeros(actions.shape[0], sum(self.sizes))
        return onehot.scatter_(1, actions + self.offsets, 1.0)

    def q_from_onehot(self, states: torch.Tensor, onehots: torch.Tensor) -> torch.Tensor:
        """Q for states (..., d) and encoded joint actions (..., sum(sizes)) -> (...)."""
        return self.net(torch.cat([states, onehots], dim=-1)).squeeze(-1)

    def forward(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.q_from_onehot(states, self.encode(actions))

    def counterfactual(self, states: torch.Tensor, actions: torch.Tensor) -> list[torch.Tensor]:
        """For each agent i, ``Q(s, (a_i', a_-i))`` for all its actions ``a_i'``: (B, n_i) each.

        All ``B * sum(sizes)`` counterfactual joint actions go through the critic in one
        batched forward pass.
        """
        onehot = self.encode(actions)
        joint = onehot[:, None, :] * self.keep + self.eye  # (B, sum, sum)
        expanded = states[:, None, :].expand(-1, joint.shape[1], -1)
        q = self.q_from_onehot(expanded, joint)  # (B, sum)
        return list(torch.split(q, self.sizes, dim=1))

    def expected_q(self, states: torch.Tensor, probs: list[torch.Tensor], samples: int,
                   generator: torch.Generator) -> torch.Tensor:
        """``E_{a ~ prod_i pi_i}[Q(s, a)]`` estimated with ``samples`` joint actions per state.

        Each agent's action is drawn independently from its ``probs[i]`` (B, n_i) with
        ``generator``; the estimate is the mean over the sampled joint actions.
        """
        draws = [torch.multinomial(p, samples, replacement=True, generator=generator)
                 for p in probs]  # n_agents x (B, K)
        actions = torch.stack(draws, dim=-1).reshape(-1, len(self.sizes))  # (B*K, n)
        repeated = states.repeat_interleave(samples, dim=0)
        return self(repeated, actions).reshape(states.shape[0], samples).mean(1)

"""Learners that turn the expert's demonstrations into a 1x controller.

Both fit the Q-networks of a ``mat-dqn`` controller (one SB3 ``DQN`` per agent, observation
in, a value per action out), so what they make is an ordinary ``mat-dqn`` controller: it
plays greedily in any env with the demonstrations' observation mode, loads from a folder or
the zoo, runs in the user loop, and ``training.meta_train --init DIR`` fine-tunes it with RL.

* ``bc``, behaviour cloning: each agent's head is trained with cross-entropy on the
  component the expert chose (its logits are the head's values; greedy = the most likely).
* ``q``, Q regression on every candidate's score: at each decision the expert scored the
  incumbent and its one-component changes from the same state. A change of agent ``a`` to
  action ``k`` gives the target ``Q_a(s, k) = (score - incumbent's score) / score_scale``,
  and every agent's incumbent action the target 0. Scores relative to the incumbent's are
  scale-free across tasks. Whole-recipe jumps change several components at once and teach
  no single head, so ``q`` leaves them out. Greedy play then switches a component only where
  its head predicts a gain over keeping it.

Training is full-batch Adam from the controller's seeded initialisation, so a fit is a pure
function of the demonstrations and the seed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.mat_dqn import MatDQNController
from envs.errors import ConfigError
from training.imitation.demonstrations import DemoEpisode

LEARNERS = ("bc", "q")
"""The learners by name."""


@dataclass(frozen=True)
class Targets:
    """One agent's training targets over all decisions."""

    values: torch.Tensor
    """``bc``: the expert's action per decision (int64 ``[N]``); ``q``: a target value per
    decision and action (float32 ``[N, actions]``)."""
    mask: torch.Tensor | None = None
    """``q``: which entries of ``values`` are targets (bool ``[N, actions]``)."""


def observations(episodes: Sequence[DemoEpisode]) -> torch.Tensor:
    """Every decision's observation, ``[N, features]`` float32, episode by episode."""
    rows = [o for e in episodes for o in e.observations]
    if not rows:
        raise ConfigError("the demonstrations hold no decision: record some first")
    return torch.tensor(np.asarray(rows, dtype=np.float32))


def bc_targets(episodes: Sequence[DemoEpisode], agents: Sequence[str]) -> dict[str, Targets]:
    """Per agent, the expert's chosen action at every decision."""
    return {a: Targets(torch.tensor([c[a] for e in episodes for c in e.chosen])) for a in agents}


def q_targets(episodes: Sequence[DemoEpisode], sizes: Mapping[str, int],
              score_scale: float) -> dict[str, Targets]:
    """Per agent, the scores of the one-component changes relative to the incumbent's."""
    n = sum(e.decisions for e in episodes)
    values = {a: torch.zeros(n, k) for a, k in sizes.items()}
    masks = {a: torch.zeros(n, k, dtype=torch.bool) for a, k in sizes.items()}
    row = 0
    for episode in episodes:
        for candidates, scores in zip(episode.candidates, episode.scores):
            incumbent, base = candidates[0], scores[0]
            for agent in sizes:
                values[agent][row, incumbent[agent]] = 0.0
                masks[agent][row, incumbent[agent]] = True
            for candidate, score in zip(candidates[1:], scores[1:]):
                changed = [a for a in sizes if candidate[a] != incumbent[a]]
                if len(changed) == 1:
                    a = changed[0]
                    values[a][row, candidate[a]] = (score - base) / score_scale
                    masks[a][row, candidate[a]] = True
            row += 1
    return {a: Targets(values[a], masks[a]) for a in sizes}


def targets(learner: str, episodes: Sequence[DemoEpisode], sizes: Mapping[str, int],
            score_scale: float = 5.0) -> dict[str, Targets]:
    """The ``learner``'s targets for each agent (``sizes``: actions per agent)."""
    if learner == "bc":
        return bc_targets(episodes, list(sizes))
    if learner == "q":
        return q_targets(episodes, sizes, score_scale)
    raise ConfigError(f"unknown learner {learner!r}; the learners are {', '.join(LEARNERS)}")


def loss(learner: str, outputs: torch.Tensor, target: Targets) -> torch.Tensor:
    """Cross-entropy on the expert's choice (``bc``) or squared error on the scored entries
    (``q``)."""
    if learner == "bc":
        return nn.functional.cross_entropy(outputs, target.values)
    assert target.mask is not None
    error = (outputs - target.values)[target.mask]
    return (error ** 2).mean() if error.numel() else outputs.sum() * 0.0


def fit(controller: MatDQNController, learner: str, x: torch.Tensor,
        per_agent: Mapping[str, Targets], *, epochs: int, learning_rate: float = 1e-3,
        weight_decay: float = 1e-4) -> dict[str, float]:
    """Train each agent's Q-network ``epochs`` full-batch Adam steps on its targets (the
    target network follows); returns each agent's final loss."""
    losses = {}
    for agent, target in per_agent.items():
        model = controller.models[agent]
        net = model.q_net
        net.train()
        optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate,
                                     weight_decay=weight_decay)
        value = torch.tensor(0.0)
        for _ in range(epochs):
            optimizer.zero_grad()
            value = loss(learner, net(x), target)
            value.backward()
            optimizer.step()
        net.eval()
        model.q_net_target.load_state_dict(net.state_dict())
        losses[agent] = float(value.detach())
    return losses


def agreement(controller: MatDQNController, x: torch.Tensor,
              chosen: Mapping[str, torch.Tensor]) -> float:
    """The share of (decision, agent) pairs where the controller's greedy action is the
    expert's choice."""
    hits, total = 0, 0
    with torch.no_grad():
        for agent, expert in chosen.items():
            greedy = controller.models[agent].q_net(x).argmax(dim=1)
            hits += int((greedy == expert).sum())
            total += len(expert)
    return hits / max(1, total)

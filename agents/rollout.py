"""``rollout``: Bertsekas' rollout algorithm over recipes, a search expert on exact env forks.

At each decision the expert forks the env (``env.fork()``, an exact in-memory copy) once per
candidate recipe, plays the candidate for one segment, continues with the base policy
("hold": keep that recipe) to the budget's end or for ``horizon`` more segments, and scores
the fork's last val mAP (or, with ``score="return"``, the rewards it collected). It then
plays the best candidate in the real env; a tie keeps the incumbent.

Candidates: the incumbent recipe (always), plus every change of one component (19 recipes
with today's catalogues, incumbent included) or a seeded sample of ``candidates`` of those
changes, plus ``jumps``: whole recipes tried at every decision (e.g. a static panel, the
single best solver), so that the search can reach recipes far from the incumbent. The first
incumbent is ``choices`` (by name or index; ``run_marl`` offers the env's default recipe, so
``--options '{"choices": {...}}'`` starts it from another one, e.g. the SBS).

Where the forks are played is the ``scorer``'s business (:class:`ForkScorer`): here, one
after another, by default; ``training.meta.workers``' Ray pool plays them side by side
(``run_marl --workers N``), with the same scores.

It is a search method, not a 1x controller: every candidate trains segments of its own. The
controller counts them (``segments``) and reports them as a multiple of one episode
(``episodes_of_compute``; ``observe`` logs both as ``search/...``, with ``predicted_gain``,
its choice's score over the incumbent's). With the defaults (first recipe the env's
default, base policy "hold", continuation to the end) its final val mAP is never below that
of ``static`` at the same seed: forks are exact and the incumbent, whose continuation is the
static run's, is always scored (the cost-improvement property of rollout). It selects on val
and reports test, never the other way. Learning (``observe``) does nothing: it plans anew
from the real state at every decision.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pettingzoo import ParallelEnv

from agents.base import Controller, Observations, Transition, action_names, mapping_of_ints
from agents.common import generator_state, set_generator_state, spawn_generators
from agents.errors import AgentConfigError

if TYPE_CHECKING:
    from envs import Recipe

BASE_POLICIES = ("hold",)
"""Continuations after a candidate's first segment: ``hold`` keeps the candidate's recipe."""
SCORES = ("val_mAP", "return")
"""What a candidate's continuation is judged by: the last val mAP, or the rewards collected."""


@dataclass(frozen=True)
class RolloutConfig:
    """Hyperparameters of ``rollout``."""

    choices: dict[str, int | str] = field(default_factory=dict)
    """The first recipe, an action per agent by index or name (missing agents: 0); run_marl
    offers the env's default recipe."""
    candidates: int = 0
    """One-component changes tried per decision besides the incumbent: 0 tries all of them,
    K > 0 a seeded sample of K."""
    jumps: tuple[dict[str, int | str], ...] = ()
    """Whole recipes (an action per agent by index or name; missing agents: 0) that are
    candidates at every decision besides the one-component changes."""
    horizon: int = 0
    """Segments played after a candidate's own: 0 continues to the budget's end."""
    base_policy: str = "hold"
    """How a fork continues after the candidate's segment (``hold``: keep its recipe)."""
    score: str = "val_mAP"
    """``val_mAP`` (the fork's last val mAP) or ``return`` (its rewards summed)."""

    def __post_init__(self) -> None:
        for name in ("candidates", "horizon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AgentConfigError(f"rollout {name} must be an int >= 0, got {value!r}")
        if self.base_policy not in BASE_POLICIES:
            raise AgentConfigError(f"rollout base_policy {self.base_policy!r} is not one of "
                                   f"{BASE_POLICIES}")
        if self.score not in SCORES:
            raise AgentConfigError(f"rollout score {self.score!r} is not one of {SCORES}")


@dataclass(frozen=True)
class Continuation:
    """How a candidate's fork goes on after the candidate's own segment, and what it scores."""

    horizon: int = 0
    """Segments played after the candidate's own with the base policy: 0 to the budget's end."""
    score: str = "val_mAP"
    """``val_mAP``: the fork's last val mAP; ``return``: its rewards summed."""


def play_candidate(fork: ParallelEnv, candidate: Mapping[str, int],
                   continuation: Continuation,
                   on_step: Callable[[Transition], None] | None = None) -> tuple[float, int]:
    """Play ``candidate`` in ``fork`` (an env at the decision), hold it ("hold", the base
    policy) to the end or for ``continuation.horizon`` more segments; returns the score and
    the segments trained. ``on_step`` sees every step as a ``Transition`` (to record the
    fork's; the observations before the first are ``fork.state()``'s). ``fork`` is used up."""
    limit = math.inf if continuation.horizon == 0 else 1 + continuation.horizon
    played, total, last = 0, 0.0, -math.inf
    observations = {a: fork.state() for a in fork.agents} if on_step is not None else {}
    while fork.agents and played < limit:
        actions = {a: candidate[a] for a in fork.agents}
        after, rewards, terminations, truncations, infos = fork.step(actions)
        if on_step is not None:
            on_step(Transition(observations, actions, rewards, after, terminations,
                               truncations, infos))
            observations = after
        played += 1
        total += float(np.mean(list(rewards.values())))
        mAP = (next(iter(infos.values())).get("metrics") or {}).get("mAP")
        last = -math.inf if mAP is None else float(mAP)
    return (total if continuation.score == "return" else last), played


def rollout_options(start: Recipe, *, candidates: int, horizon: int,
                    jumps: Sequence[Recipe] = ()) -> dict[str, Any]:
    """``make_controller("rollout", ...)`` options: start from ``start``, try ``candidates``
    one-component changes held for ``horizon`` segments, and jump to ``jumps`` (but ``start``)."""
    return {"choices": start.as_dict(), "candidates": candidates, "horizon": horizon,
            "jumps": tuple(j.as_dict() for j in jumps if j != start)}


class ForkScorer(Protocol):
    """Scores candidates from one env state: each on a fork of ``env``, in candidate order.
    ``training.meta.workers``' pools are scorers (``InProcessPool`` here, ``RayPool`` on Ray
    actors); run_marl's ``--workers N`` gives the controller one."""

    def score(self, env: Any, candidates: Sequence[Mapping[str, int]],
              continuation: Continuation) -> list[tuple[float, int]]:
        ...


class InProcessScorer:
    """Plays every candidate's fork here, one after another."""

    def score(self, env: Any, candidates: Sequence[Mapping[str, int]],
              continuation: Continuation) -> list[tuple[float, int]]:
        return [play_candidate(env.fork(), c, continuation) for c in candidates]


class RolloutController(Controller):
    """Plays, at each decision, the candidate recipe whose forked continuation scores best."""

    name = "rollout"
    config_class = RolloutConfig

    def __init__(self, env: ParallelEnv, *, seed: int, config: RolloutConfig | None = None) -> None:
        super().__init__(env, config or RolloutConfig())
        self.attach(env)
        names = action_names(env, self.agents)
        self.start = self._recipe("choices", self.config.choices, names)
        self.jumps = [self._recipe(f"jumps[{i}]", jump, names)
                      for i, jump in enumerate(self.config.jumps)]
        self.incumbent = dict(self.start)
        self.rng = spawn_generators(seed, 1)[0]
        self.segments = 0
        """Segments trained in forks so far (the real episode's own are not counted)."""
        self.last_candidates: list[tuple[dict[str, int], float]] = []
        """The last decision's candidates (joint actions, the incumbent first) and their
        scores: what a learner imitating the expert is taught (``training.imitation``)."""
        self.last_choice: dict[str, int] = {}
        """The last decision's best candidate: the joint action the expert chose."""
        self.last_gain = 0.0
        """The last decision's best score minus the incumbent's: what its switch was expected
        to gain (0 when it kept the incumbent)."""
        self.scorer: ForkScorer = InProcessScorer()
        """Where the candidates' forks are played: here, or on Ray workers (set by
        ``run_marl --workers N``, a ``training.meta.workers`` pool). Either gives the same scores
        when the workers run torch on the driver's thread count."""

    def _recipe(self, name: str, given: Mapping[str, int | str],
                names: Mapping[str, Any] | None) -> dict[str, int]:
        """A whole joint action from ``given`` (by index or name; missing agents: 0)."""
        if not isinstance(given, Mapping):
            raise AgentConfigError(f"rollout {name} must be a dict of agent: action, got "
                                   f"{given!r}")
        chosen = mapping_of_ints(name, given, self.action_sizes, names=names)
        return {a: chosen.get(a, 0) for a in self.agents}

    def attach(self, env: ParallelEnv) -> None:
        """Search in ``env`` (the episode driver attaches the env it plays)."""
        base = env.unwrapped
        if not callable(getattr(base, "fork", None)):
            raise AgentConfigError(
                f"rollout searches by forking the env, and {type(base).__name__} has no "
                "fork(): use an envs.make env (MLICTrainingEnv.fork) or give yours one")
        self.env = base

    # ------------------------------------------------------------ the search
    def neighbours(self) -> list[dict[str, int]]:
        """The incumbent, its one-component changes (all, or a seeded sample), then the
        jumps not already among them."""
        changes = [{**self.incumbent, a: k} for a in self.agents
                   for k in range(self.action_sizes[a]) if k != self.incumbent[a]]
        if self.config.candidates and self.config.candidates < len(changes):
            picked = self.rng.choice(len(changes), self.config.candidates, replace=False)
            changes = [changes[i] for i in sorted(picked)]
        out = [dict(self.incumbent), *changes]
        out += [dict(j) for j in self.jumps if j not in out]
        return out

    @property
    def last_scores(self) -> dict[str, float]:
        """The last decision's candidates (``aug=..,opt=..``) and their scores."""
        return {",".join(f"{a}={c[a]}" for a in self.agents): score
                for c, score in self.last_candidates}

    @property
    def continuation(self) -> Continuation:
        """How every candidate's fork is played and scored."""
        return Continuation(horizon=self.config.horizon, score=self.config.score)

    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        live = self.live(observations)
        candidates = self.neighbours()
        results = self.scorer.score(self.env, candidates, self.continuation)
        self.segments += sum(played for _, played in results)
        self.last_candidates = [(dict(c), score) for c, (score, _) in zip(candidates, results)]
        best, best_score = candidates[0], results[0][0]
        for candidate, (score, _) in zip(candidates[1:], results[1:]):
            if score > best_score:  # strict: a tie keeps the earlier one, the incumbent first
                best, best_score = candidate, score
        gain = best_score - results[0][0]
        self.last_gain = gain if math.isfinite(gain) else 0.0
        self.last_choice = dict(best)
        self.incumbent = dict(best)
        return {a: best[a] for a in live}

    def observe(self, transition: Transition) -> dict[str, float]:
        if transition.done:  # the next episode starts from the first recipe again
            self.incumbent = dict(self.start)
        return {"search/segments": float(self.segments),
                "search/episodes_of_compute": self.episodes_of_compute,
                "search/predicted_gain": self.last_gain}

    @property
    def episodes_of_compute(self) -> float:
        """Segments trained in forks, in episodes of this env's budget."""
        budget = getattr(getattr(self.env, "config", None), "max_decisions", None) \
            or getattr(self.env, "max_steps", None) or 1
        return self.segments / budget

    # ------------------------------------------------------------ checkpoint
    def _state(self) -> dict[str, Any]:
        # "search": where the search stands, which acting moves (as it moves "rng"); no
        # learned state, so a frozen rollout changes only these
        return {"search": {"incumbent": dict(self.incumbent), "segments": self.segments},
                "rng": generator_state(self.rng)}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        search = state["search"]
        self.incumbent = mapping_of_ints("incumbent", search["incumbent"], self.action_sizes)
        self.segments = int(search["segments"])
        set_generator_state(self.rng, state["rng"])

    def _save_artifacts(self, directory: Path) -> None:
        """Nothing learned: the manifest's config is the whole controller."""

    def load_artifacts(self, directory: Path) -> None:
        """Nothing to load."""

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

Successive halving (``halving``, off by default) makes the expert cheaper on long budgets.
With L segments left at a decision (the candidate's own included) and K candidates, the full
expert trains K·L segments per decision, about K·(T + 1)/2 episodes over an episode of T
decisions. Rungs of (candidates kept, horizon) score the candidates in steps instead: e.g.
``((0, 1), (2, 0))`` plays every candidate for its segment and 1 held segment, then only the
best 2 by that score (and the incumbent, always) to the end, deciding on the last rung's
scores: at most K·2 + 3·L segments per decision (K·(1 + h1) + k2·L in general, k2 counting
the incumbent when it is not among the best), so about 2·K + 3·(T + 1)/2 episodes over an
episode instead of K·(T + 1)/2 (K = 19, T = 20: at most 69.5 instead of 199.5). Every rung
forks the real env again (exact, never a resumed fork) and every segment any rung trains is
counted; ``observe`` also logs ``search/rungs``, the rungs the last decision played, and
``last_candidates`` holds the last rung's (``last_rungs`` every rung's). Since the incumbent
is in every rung, the guarantee against ``static`` holds when the last rung runs to the end.
What it may lose: a candidate whose benefit shows only late (e.g. a schedule that pays off
after several segments) can be cut at the first rung and is never played to the end.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pettingzoo import ParallelEnv

from agents.base import (Controller, Observations, Transition, action_names, mapping_of_ints,
                         require_recipes)
from agents.common import generator_state, set_generator_state, spawn_generators
from agents.errors import AgentConfigError
from envs.checks import require_bool, require_in_range, require_mapping

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
    """One-component changes tried per decision besides the incumbent, an int in [0, inf):
    0 tries all of them, K > 0 a seeded sample of K."""
    jumps: tuple[dict[str, int | str], ...] = ()
    """Whole recipes (an action per agent by index or name; missing agents: 0) that are
    candidates at every decision besides the one-component changes."""
    horizon: int = 0
    """Segments played after a candidate's own, an int in [0, inf): 0 continues to the
    budget's end."""
    base_policy: str = "hold"
    """How a fork continues after the candidate's segment (``hold``: keep its recipe)."""
    score: str = "val_mAP"
    """``val_mAP`` (the fork's last val mAP) or ``return`` (its rewards summed)."""
    halving: tuple[tuple[int, int], ...] = ()
    """Successive halving: rungs of (candidates kept, horizon in segments after the
    candidate's own, 0: to the budget's end); empty: every candidate is held for ``horizon``
    segments, in one rung. The first rung scores every candidate (its kept count must be 0,
    all); each later rung re-forks the real env and plays only the best ``kept`` candidates by
    the previous rung's score (ties: in candidate order, the incumbent first), plus the
    incumbent if it is not among them, for a longer horizon than the rung before (0, the
    longest, only in the last rung); kept counts never grow. The decision is made on the last
    rung's scores, so with the last horizon 0 the guarantee against ``static`` holds, the
    incumbent being in every rung. A horizon longer than the segments left is capped: a rung
    whose forks all reach the budget's end decides, the rungs after it would only replay its
    scores. E.g. ``((0, 1), (2, 0))`` (``--options '{"halving": [[0, 1], [2, 0]]}'``). Set
    the horizons here, with ``horizon`` left 0."""
    reuse: bool = False
    """Reuse the chosen candidate's score at the next decision: when the decision's last rung
    played it to the budget's end and ``score`` is ``val_mAP``, its fork trained exactly the
    segments the real env then trains (forks are exact), so at the next decision, where it is
    the incumbent, its score is already known and its fork is not played to the end again.
    Same choices and scores, fewer segments; off by default."""

    def __post_init__(self) -> None:
        for name in ("candidates", "horizon"):
            require_in_range(f"rollout {name}", getattr(self, name), 0, integer=True,
                             error=AgentConfigError)
        require_mapping("rollout choices", self.choices, AgentConfigError)
        require_bool("rollout reuse", self.reuse, AgentConfigError)
        require_recipes("rollout jumps", self.jumps)
        object.__setattr__(self, "halving", halving_rungs(self.halving))
        if self.halving and self.horizon:
            raise AgentConfigError(
                f"rollout horizon={self.horizon} and halving={list(map(list, self.halving))} "
                "both set continuation horizons: with halving leave horizon 0 and give each "
                "rung's horizon in halving")
        if not isinstance(self.base_policy, str) or self.base_policy not in BASE_POLICIES:
            raise AgentConfigError(f"rollout base_policy {self.base_policy!r} is not one of "
                                   f"{BASE_POLICIES}")
        if not isinstance(self.score, str) or self.score not in SCORES:
            raise AgentConfigError(f"rollout score {self.score!r} is not one of {SCORES}")


HALVING_EXAMPLE = "[[0, 1], [2, 0]]"
"""Rungs in the form the ``halving`` setting takes (``0:1,2:0`` on a command line)."""


def halving_rungs(value: Any, setting: str = "rollout halving",
                  example: str = HALVING_EXAMPLE) -> tuple[tuple[int, int], ...]:
    """``value`` (rungs of (candidates kept, horizon), e.g. a JSON list of pairs) as a tuple
    of int pairs, checked as ``RolloutConfig.halving`` documents; an ``AgentConfigError``
    naming ``setting`` and the fix (with ``example``) otherwise."""
    fix = (f"give rungs of (candidates kept, horizon in segments; 0: to the end), e.g. "
           f"{example}: every candidate held 1 segment, then the best 2 (and the "
           "incumbent) to the end")
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise AgentConfigError(f"{setting} must be a list of rungs, got {value!r}; {fix}")
    rungs: list[tuple[int, int]] = []
    for i, rung in enumerate(value, 1):
        if (not isinstance(rung, (list, tuple)) or len(rung) != 2
                or any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) for x in rung)):
            raise AgentConfigError(f"{setting}: rung {i} is {rung!r}, not a pair of ints; {fix}")
        keep, horizon = (int(x) for x in rung)
        if keep < 0 or horizon < 0:
            raise AgentConfigError(f"{setting}: rung {i} ({keep}, {horizon}) has a negative "
                                   f"number; kept counts and horizons are >= 0; {fix}")
        rungs.append((keep, horizon))
    for i, (keep, horizon) in enumerate(rungs, 1):
        if i == 1 and keep != 0:
            raise AgentConfigError(
                f"{setting}: rung 1 ({keep}, {horizon}) keeps {keep}, but the first rung scores "
                f"every candidate: give it 0 (all); {fix}")
        if i > 1 and keep < 1:
            raise AgentConfigError(
                f"{setting}: rung {i} ({keep}, {horizon}) keeps {keep}; a later rung keeps at "
                f"least 1 (the best by the previous rung's score); {fix}")
        if i > 2 and keep > rungs[i - 2][0]:
            raise AgentConfigError(
                f"{setting}: rung {i} ({keep}, {horizon}) keeps more than rung {i - 1} "
                f"({rungs[i - 2][0]}); kept counts never grow; {fix}")
    longest = [math.inf if h == 0 else h for _, h in rungs]
    for i in range(1, len(rungs)):
        if longest[i] <= longest[i - 1]:
            raise AgentConfigError(
                f"{setting}: rung {i + 1} {rungs[i]} does not look further than rung {i} "
                f"{rungs[i - 1]}: each rung's horizon must be longer than the one before, so "
                f"the last horizon is the longest (0, to the end, only in the last rung); {fix}")
    return tuple(rungs)


def parse_halving(text: str, flag: str = "--halving") -> tuple[tuple[int, int], ...]:
    """Rungs from a command line's ``KEPT:HORIZON,...`` (``0:1,2:0``; empty: none), checked
    by :func:`halving_rungs`; an ``AgentConfigError`` naming ``flag`` otherwise."""
    pairs = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        pieces = part.split(":")
        try:
            if len(pieces) != 2:
                raise ValueError(part)
            pairs.append((int(pieces[0]), int(pieces[1])))
        except ValueError:
            raise AgentConfigError(
                f"{flag} {text!r}: {part!r} is not KEPT:HORIZON (two ints); give rungs such as "
                "0:1,2:0 (every candidate held 1 segment, then the best 2 and the incumbent "
                "to the end)") from None
    return halving_rungs(pairs, setting=f"{flag} {text!r}", example="0:1,2:0")


def halving_text(rungs: Sequence[Sequence[int]]) -> str:
    """Rungs as a command line gives them (``0:1,2:0``): the inverse of :func:`parse_halving`."""
    return ",".join(f"{keep}:{horizon}" for keep, horizon in rungs)


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
                    jumps: Sequence[Recipe] = (),
                    halving: Sequence[Sequence[int]] | None = None) -> dict[str, Any]:
    """``make_controller("rollout", ...)`` options: start from ``start``, try ``candidates``
    one-component changes held for ``horizon`` segments, and jump to ``jumps`` (but ``start``);
    with ``halving`` rungs (``RolloutConfig.halving``; None or empty: none), score them by
    successive halving instead (``horizon`` must then be 0)."""
    options: dict[str, Any] = {"choices": start.as_dict(), "candidates": candidates,
                               "horizon": horizon,
                               "jumps": tuple(j.as_dict() for j in jumps if j != start)}
    if halving:
        options["halving"] = halving_rungs(halving)
    return options


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
        self._known: tuple[dict[str, int], float] | None = None
        """(action, score): a to-the-end score of the action the real env just played
        (``reuse``), valid at the next decision only."""
        self._to_end = False
        self.rng = spawn_generators(seed, 1)[0]
        self.segments = 0
        """Segments trained in forks so far (the real episode's own are not counted)."""
        self.last_candidates: list[tuple[dict[str, int], float]] = []
        """The last decision's candidates (joint actions, the incumbent first) and their
        scores: what a learner imitating the expert is taught (``training.imitation``). With
        ``halving``, those of the last rung played, whose scores are comparable (one
        horizon); ``last_rungs`` has every rung's."""
        self.last_rungs: list[list[tuple[dict[str, int], float]]] = []
        """The last decision's rungs, each its candidates (in candidate order, the incumbent
        first) and their scores at that rung's horizon; one rung without ``halving``."""
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
        """How every candidate's fork is played and scored (without ``halving``)."""
        return Continuation(horizon=self.config.horizon, score=self.config.score)

    @property
    def rungs(self) -> tuple[tuple[int, int], ...]:
        """(candidates kept, horizon) of each scoring round: ``halving``'s rungs, or one rung
        of every candidate at ``horizon``."""
        return self.config.halving or ((0, self.config.horizon),)

    def _score_rungs(self, candidates: Sequence[Mapping[str, int]]
                     ) -> tuple[list[int], list[float]]:
        """Play the rungs from the real env (one ``scorer.score`` call each); returns the
        last rung's candidates (indices into ``candidates``, in order, the incumbent 0 first)
        and their scores."""
        kept, scores = list(range(len(candidates))), []
        self.last_rungs = []
        known, self._known = self._known, None
        reuse = known is not None and known[0] == candidates[0]  # the incumbent's, to the end
        for i, (keep, horizon) in enumerate(self.rungs):
            if i:  # the best ``keep`` by the previous rung's score, ties in candidate order
                ranked = sorted(range(len(kept)), key=lambda j: (
                    -scores[j] if not math.isnan(scores[j]) else math.inf, j))
                kept = sorted({0, *(kept[j] for j in ranked[:keep])})  # the incumbent always
            skip = int(reuse and horizon == 0)  # kept[0] is the incumbent, its score known
            played_now = [candidates[j] for j in kept[skip:]]
            results = self.scorer.score(self.env, played_now, Continuation(
                horizon=horizon, score=self.config.score)) if played_now else []
            if skip and known is not None:
                results = [(known[1], 0), *results]
            self.segments += sum(played for _, played in results)
            scores = [score for score, _ in results]
            self.last_rungs.append([(dict(candidates[j]), s) for j, s in zip(kept, scores)])
            self._to_end = horizon == 0 or all(played < 1 + horizon
                                               for _, played in results[skip:])
            if horizon and self._to_end:
                break  # every fork reached the budget's end: later rungs would replay these
        return kept, scores

    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        live = self.live(observations)
        everyone = self.neighbours()
        kept, scores = self._score_rungs(everyone)
        candidates = [everyone[j] for j in kept]
        self.last_candidates = [(dict(c), score) for c, score in zip(candidates, scores)]
        best, best_score = candidates[0], scores[0]
        for candidate, score in zip(candidates[1:], scores[1:]):
            if score > best_score:  # strict: a tie keeps the earlier one, the incumbent first
                best, best_score = candidate, score
        gain = best_score - scores[0]
        self.last_gain = gain if math.isfinite(gain) else 0.0
        self.last_choice = dict(best)
        self.incumbent = dict(best)
        if self.config.reuse and self._to_end and self.config.score == "val_mAP" \
                and math.isfinite(best_score):
            self._known = (dict(best), best_score)
        return {a: best[a] for a in live}

    def observe(self, transition: Transition) -> dict[str, float]:
        if transition.done:  # the next episode starts from the first recipe again
            self.incumbent = dict(self.start)
            self._known = None
        logs = {"search/segments": float(self.segments),
                "search/episodes_of_compute": self.episodes_of_compute,
                "search/predicted_gain": self.last_gain}
        if self.config.halving:  # the rungs the last decision played (fewer near the end)
            logs["search/rungs"] = float(len(self.last_rungs))
        return logs

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
        self._known = None  # a resumed search plays its incumbent again
        set_generator_state(self.rng, state["rng"])

    def _save_artifacts(self, directory: Path) -> None:
        """Nothing learned: the manifest's config is the whole controller."""

    def load_artifacts(self, directory: Path) -> None:
        """Nothing to load."""

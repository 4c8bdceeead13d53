"""The one controller base class, and the transition object it learns from.

A *controller* chooses one Discrete action per agent of a PettingZoo ``ParallelEnv`` and
learns from the joint transitions it is shown. It sees the env only through
``possible_agents``, ``action_space(agent)`` and ``observation_space(agent)``, and all of
its randomness comes from generators built from the ``seed`` given at construction, never
from the global ``numpy`` / ``torch`` generators.

The life of a controller, as ``training.core.episode`` drives it (SB3's ``learn(total_timesteps)``
is the model: the run length belongs to the run, not to the controller's config)::

    controller = make_controller("mat-dqn", env, seed=0)
    controller.begin(total_steps=100)        # the run ahead: schedules (epsilon) scale to it
    actions = controller.act(observations)
    logs = controller.observe(Transition(observations, actions, rewards, next_observations,
                                         terminations, truncations, infos))  # step's order
    controller.save(directory)
    same = type(controller).load(directory, env, seed=0)   # or agents.load_controller(...)
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import statistics
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from agents.errors import AgentConfigError, BeginNeededError, ControllerCheckpointError
from envs import COMPONENTS, catalogue_of_sizes

MANIFEST = "controller.json"
"""File that ``save`` writes beside the artefacts: algorithm, agents, the spaces they were
trained on (action sizes, observation shapes) and hyperparameters."""

NOT_RELOADED = ("log_dir", "total_steps")
"""Saved settings a reloaded controller does not inherit: ``log_dir`` (it must not write into
an old run) and ``total_steps`` (a setting of older versions; the run length now comes from
``begin``)."""

Observations = Mapping[str, np.ndarray]
C = TypeVar("C")
ControllerT = TypeVar("ControllerT", bound="Controller")


@dataclasses.dataclass(frozen=True)
class Transition:
    """One joint env step, as ``ParallelEnv.step`` returned it, with the observations before it."""

    observations: Observations
    """What every agent observed when it acted."""
    actions: Mapping[str, int]
    """The joint action."""
    rewards: Mapping[str, float]
    next_observations: Observations
    terminations: Mapping[str, bool]
    truncations: Mapping[str, bool]
    infos: Mapping[str, dict]

    @property
    def done(self) -> bool:
        """Whether this step ended the episode (any agent terminated or truncated)."""
        return any(self.terminations.values()) or any(self.truncations.values())

    @property
    def mean_reward(self) -> float:
        """The reward averaged over the agents (the shared reward when all are paid the same)."""
        return statistics.fmean(float(r) for r in self.rewards.values()) if self.rewards else 0.0


class Controller(ABC):
    """Base class of every controller: agents, action sizes, the run ahead, frozen flag, save/load.

    Subclasses set ``name`` and ``config_class`` (a frozen dataclass of hyperparameters,
    one docstring per field), take ``(env, *, seed, config)`` and implement ``act``,
    ``observe``, ``_state``, ``_load_state``, ``_save_artifacts`` and ``load_artifacts``.
    """

    name: ClassVar[str] = "base"
    config_class: ClassVar[type]
    passthrough: ClassVar[str | None] = None
    """Config field (a dict) that collects hyperparameters the dataclass does not name."""

    def __init__(self, env: ParallelEnv, config: Any) -> None:
        self.config = config
        self.agents: list[str] = list(env.possible_agents)
        self.action_sizes: dict[str, int] = {a: discrete_size(env, a) for a in self.agents}
        self.observation_shapes: dict[str, list[int] | None] = {
            a: observation_shape(env, a) for a in self.agents}
        """Each agent's observation shape (None for a space without one), as ``save`` records it."""
        self.catalogue: str | None = env_catalogue(env)
        """The catalogue of choices it acts in (``envs.CATALOGUE_NAMES``), as ``save`` records
        it; None for an env that has none (a test's fake env)."""
        self.context_features: bool | None = env_context_features(env)
        """Whether its observations carry the context block (observation version 2), as
        ``save`` records it; None for an env without the setting."""
        self.training = True
        """False freezes the controller: it acts greedily and ``observe`` learns nothing."""
        self.total_steps: int | None = None
        """Env steps of the run ahead, as given to ``begin`` (None before)."""

    # ------------------------------------------------------------- the run
    def begin(self, total_steps: int) -> None:
        """Called once before a run of ``total_steps`` env steps (and again on resume).

        Controllers with schedules over the run (``mat-dqn``'s epsilon) scale them to it.
        """
        if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)) \
                or total_steps < 1:
            raise AgentConfigError(f"begin(total_steps={total_steps!r}): give the number of env "
                                   "steps of the run ahead, a positive integer")
        self.total_steps = int(total_steps)

    def attach(self, env: ParallelEnv) -> None:
        """Called by the episode driver with the env it is about to play, which has the spaces
        of the one the controller was built with. Controllers act on observations alone and
        ignore it; a search controller (``rollout``) keeps it, to fork."""

    def require_begun(self) -> int:
        """``total_steps``, or a ``BeginNeededError`` saying how to fix it."""
        if self.total_steps is None:
            raise BeginNeededError(
                f"{self.name!r} schedules over the run: call controller.begin(total_steps=N) "
                "with the run's number of env steps before it learns (training.core.episode.run "
                "does this for you)")
        return self.total_steps

    # -------------------------------------------------------------- acting
    @abstractmethod
    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        """One action per agent present in ``observations``; ``training=False`` acts greedily."""

    @abstractmethod
    def observe(self, transition: Transition) -> dict[str, float]:
        """Learn from one joint step; returns scalars to log (``agent/<id>/...``, ``critic/...``)."""

    def explores(self, training: bool) -> bool:
        """Whether this call may explore: only when both the call and the controller train."""
        return bool(training and self.training)

    def live(self, observations: Mapping[str, Any]) -> list[str]:
        """The controlled agents present in ``observations``, in ``possible_agents`` order."""
        unknown = set(observations) - set(self.agents)
        if unknown:
            raise AgentConfigError(f"observations for unknown agents {sorted(unknown)}; "
                                   f"this controller drives {self.agents}")
        return [a for a in self.agents if a in observations]

    def observe_many(self, transitions: Sequence[Transition]) -> dict[str, float]:
        """Learn from transitions that other copies of this controller collected (a round of
        rollout workers' episodes), in order; returns the last step's logs.

        The actions were drawn by the policy the copies had when the round began (see
        ``actor_state``); controllers whose update needs the behaviour policy (ma2ml's
        importance weights) override this to read it before their first update.
        """
        logs: dict[str, float] = {}
        for transition in transitions:
            logs = self.observe(transition) or logs
        return logs

    # ------------------------------------------------------------ actors
    def actor_state(self) -> dict[str, Any]:
        """What a copy needs to act as this controller does now: weights and exploration
        settings, never generators or replay buffers (a rollout worker keeps its own seed)."""
        raise AgentConfigError(
            f"{self.name!r} cannot run on rollout workers: it does not implement "
            "actor_state()/load_actor_state(); use --workers 1 or an algorithm that does")

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        """Act from now on as the controller whose ``actor_state()`` this is."""
        raise AgentConfigError(f"{self.name!r} does not implement load_actor_state()")

    # ---------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (torch-saveable with ``weights_only=True``)."""
        return {"algo": self.name, "agents": list(self.agents), **self._state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("algo") != self.name or list(state.get("agents", [])) != self.agents:
            raise ControllerCheckpointError(
                f"state dict of {state.get('algo')!r} for agents {state.get('agents')} cannot be "
                f"loaded into {self.name!r} for agents {self.agents}")
        self._load_state(state)

    def save(self, directory: Path) -> None:
        """Write ``controller.json`` plus the algorithm's own artefacts into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config, not_saved = _json_fields(dataclasses.asdict(self.config))
        manifest = {"algo": self.name, "agents": self.agents, "action_sizes": self.action_sizes,
                    "observation_shapes": self.observation_shapes,
                    "config": config, "not_saved": not_saved}
        if self.catalogue is not None:
            manifest["catalogue"] = self.catalogue
        if self.context_features is not None:
            manifest["context_features"] = self.context_features
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2))
        self._save_artifacts(directory)

    @classmethod
    def from_options(cls: type[ControllerT], env: ParallelEnv, *, seed: int,
                     **hyperparameters: Any) -> ControllerT:
        """Build with hyperparameters given by name (unknown names fail with close matches)."""
        config = build_config(cls.config_class, hyperparameters, extra_field=cls.passthrough)
        return cls(env, seed=seed, config=config)  # type: ignore[call-arg]

    @classmethod
    def load(cls: type[ControllerT], directory: Path, env: ParallelEnv, *, seed: int,
             training: bool = True, **overrides: Any) -> ControllerT:
        """Rebuild a controller that ``save(directory)`` wrote, for ``env``.

        The hyperparameters come from ``controller.json`` (``overrides`` win; fields JSON
        could not hold must be given again), then the learned artefacts are loaded. Replay
        buffers and generators are not part of ``save``: use ``state_dict`` for exact resume.
        """
        manifest = read_manifest(directory, env)
        if manifest["algo"] != cls.name:
            raise ControllerCheckpointError(
                f"{directory} holds a {manifest['algo']!r} controller, not {cls.name!r}; load it "
                "with agents.load_controller(directory, env, seed=...)")
        missing = [k for k in manifest.get("not_saved", []) if k not in overrides]
        if missing:
            raise ControllerCheckpointError(
                f"{Path(directory) / MANIFEST} could not store {missing} as JSON (e.g. a class "
                "in dqn_kwargs); pass them again as keyword arguments")
        saved = {k: v for k, v in manifest["config"].items() if k not in NOT_RELOADED}
        controller = cls.from_options(env, seed=seed, **{**saved, **overrides})
        controller.load_artifacts(Path(directory))
        controller.training = training
        return controller

    @abstractmethod
    def load_artifacts(self, directory: Path) -> None:
        """Load what ``_save_artifacts`` wrote (the learned parameters)."""

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """The algorithm's own part of ``state_dict``."""

    @abstractmethod
    def _load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``_state`` returned."""

    @abstractmethod
    def _save_artifacts(self, directory: Path) -> None:
        """Write the learned parameters into ``directory`` (beside the manifest)."""


# -------------------------------------------------------------------- helpers
def _saved_controller_fix() -> str:
    """What to pass instead of a folder with no ``controller.json`` (``read_manifest``)."""
    return ("pass a folder written by Controller.save (a finished run's best/, e.g. "
            "runs/<name>/best, or a training.run_marl run's agents/) or zoo:<name> "
            "(agents.zoo.list_zoo() lists the published names)")


def read_manifest(directory: Path, env: ParallelEnv, *, label: str | None = None) -> dict[str, Any]:
    """The ``controller.json`` of a saved controller, checked against ``env``: its agents,
    their action sizes and (manifests written since they were recorded) observation shapes.

    ``label`` names the controller in errors (e.g. ``zoo:<name>``; default the directory).
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ControllerCheckpointError(f"{path} is missing: {directory} holds no saved "
                                        f"controller; {_saved_controller_fix()}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:  # not JSON, or not even UTF-8 text
        raise ControllerCheckpointError(f"{path} is damaged, not valid JSON ({error}); save "
                                        "or copy the controller again (for a zoo entry, "
                                        "reinstall the package)") from error
    problem = manifest_problem(manifest)
    if problem is not None:
        raise ControllerCheckpointError(f"{path} is damaged ({problem}); save or copy the "
                                        "controller again (for a zoo entry, reinstall the "
                                        "package)")
    check_manifest(manifest, env, label or str(directory))
    return manifest


def manifest_problem(manifest: Any) -> str | None:
    """What keeps ``manifest`` (a parsed ``controller.json``) from being one ``save`` wrote,
    or None: an object with the algorithm's name, the agents and the config, and, where
    present, per-agent action sizes and observation shapes."""
    if not isinstance(manifest, dict):
        return f"it holds a JSON {type(manifest).__name__}, not an object"
    if not isinstance(manifest.get("algo"), str):
        return "its 'algo' is not an algorithm name"
    agents = manifest.get("agents")
    if not isinstance(agents, list) or not agents or not all(isinstance(a, str) for a in agents):
        return "its 'agents' is not a list of agent ids"
    if not isinstance(manifest.get("config"), dict):
        return "its 'config' is not an object of hyperparameters"
    sizes = manifest.get("action_sizes") or {}
    if not isinstance(sizes, dict) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in sizes.values()):
        return "its 'action_sizes' is not an object of ints"
    shapes = manifest.get("observation_shapes") or {}
    if not isinstance(shapes, dict) or not all(
            s is None or isinstance(s, list) and all(isinstance(n, int) for n in s)
            for s in shapes.values()):
        return "its 'observation_shapes' is not an object of shapes"
    if not isinstance(manifest.get("not_saved", []), list):
        return "its 'not_saved' is not a list"
    return None


def check_fits(controller: "Controller", env: ParallelEnv, label: str = "the controller") -> None:
    """Refuse ``env`` unless ``controller`` (built or loaded elsewhere) was made for its agents,
    action sizes and observation shapes."""
    manifest = {"agents": controller.agents, "action_sizes": controller.action_sizes,
                "observation_shapes": controller.observation_shapes}
    for name in ("catalogue", "context_features"):  # None: built for an env without them
        if getattr(controller, name, None) is not None:
            manifest[name] = getattr(controller, name)
    check_manifest(manifest, env, label)


def env_catalogue(env: ParallelEnv) -> str | None:
    """The catalogue an MLIC env (or a wrapper of one) offers; None for an env without one."""
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    return getattr(config, "catalogue", None)


def env_context_features(env: ParallelEnv) -> bool | None:
    """Whether an MLIC env's observation has the context block; None for an env without the
    setting."""
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    value = getattr(config, "context_features", None)
    return None if value is None else bool(value)


def manifest_context_features(manifest: Mapping[str, Any]) -> bool | None:
    """Whether a saved controller's observations carry the context block: the manifest's
    ``context_features``; ``False`` for an MLIC controller saved before the setting existed
    (none had it); None for a controller of another env."""
    if "context_features" in manifest:
        return bool(manifest["context_features"])
    return None if manifest_catalogue(manifest) is None else False


def manifest_catalogue(manifest: Mapping[str, Any]) -> str | None:
    """The catalogue a saved controller acts in: the manifest's ``catalogue``; for a manifest
    written before catalogues were named, the one whose sizes match its action sizes (every
    such controller was trained on ``classic``, the only catalogue there was); None for a
    controller of another env."""
    if "catalogue" in manifest:
        return str(manifest["catalogue"])
    sizes = manifest.get("action_sizes") or {}
    if not sizes or not set(sizes) <= set(COMPONENTS):
        return None
    return catalogue_of_sizes(dict(sizes))


def check_manifest(manifest: Mapping[str, Any], env: ParallelEnv, label: str) -> None:
    """Refuse ``env`` unless it has the manifest's agents, catalogue, action sizes and
    observation shapes."""
    saved_catalogue, given_catalogue = manifest_catalogue(manifest), env_catalogue(env)
    if saved_catalogue is not None and given_catalogue is not None \
            and saved_catalogue != given_catalogue:
        raise ControllerCheckpointError(
            f"{label} acts in catalogue {saved_catalogue!r}; this env offers "
            f"{given_catalogue!r}. Build the env with catalogue={saved_catalogue!r} (run_marl: "
            f"--catalogue {saved_catalogue}; --load-agents does it for you), or use a "
            f"controller trained in {given_catalogue!r}")
    saved_context, given_context = manifest_context_features(manifest), env_context_features(env)
    if saved_context is not None and given_context is not None and saved_context != given_context:
        raise ControllerCheckpointError(
            f"{label} was trained {'with' if saved_context else 'without'} the observation's "
            f"context features (budget and label effects); this env "
            f"{'has' if given_context else 'lacks'} them. Build the env with "
            f"context_features={saved_context} (a -v{2 if saved_context else 1} id; run_marl "
            f"--load-agents does it for you), or use a controller trained on this observation")
    saved, given = list(manifest["agents"]), list(env.possible_agents)
    if saved != given:
        raise ControllerCheckpointError(
            f"{label} holds agents {saved}; this env has {given}. Build the env with "
            f"agents={tuple(saved)!r} (run_marl: --agents {','.join(saved)}), or use a "
            "controller trained for these agents")
    _check_spaces(manifest, env, label)


def _check_spaces(manifest: Mapping[str, Any], env: ParallelEnv, label: str) -> None:
    """Refuse an env whose action sizes or observation shapes differ from the saved ones."""
    for agent, size in (manifest.get("action_sizes") or {}).items():
        given = discrete_size(env, agent)
        if int(size) != given:
            raise ControllerCheckpointError(
                f"{label} was trained with {size} actions for {agent!r}; this env gives {given} "
                f"(its catalogue of choices differs). Use a controller trained on this version "
                "of the env, or the env version it was trained on")
    for agent, shape in (manifest.get("observation_shapes") or {}).items():  # absent: old manifest
        given = observation_shape(env, agent)
        if shape is not None and given is not None and list(shape) != given:
            raise ControllerCheckpointError(
                f"{label} was trained on observations of {_describe(shape)} for {agent!r}; "
                f"this env gives {given[0] if len(given) == len(shape) == 1 else _describe(given)}"
                f"{_history_hint(env, shape, given)}. Build the env with the settings the "
                "controller was trained with (a zoo entry's card.json lists them), or train a "
                "controller for this env")


def _describe(shape: Sequence[int]) -> str:
    return f"{shape[0]} features" if len(shape) == 1 else f"shape {tuple(shape)}"


def _history_hint(env: ParallelEnv, saved: Sequence[int], given: Sequence[int]) -> str:
    """A guess at the cause when the env has a ``history`` setting (one feature per step)."""
    history = getattr(getattr(getattr(env, "unwrapped", env), "config", None), "history", None)
    if not isinstance(history, int) or len(saved) != 1 or len(given) != 1:
        return ""
    wanted = history + int(saved[0]) - int(given[0])
    if wanted < 0:
        return " (a different observation layout?)"
    return (f" (history length? this env has history={history}; history={wanted} would give "
            f"{saved[0]})")


def discrete_size(env: ParallelEnv, agent: str) -> int:
    """``agent``'s number of actions; every controller here needs Discrete action spaces."""
    space = env.action_space(agent)
    if not isinstance(space, spaces.Discrete) or int(space.start) != 0:
        raise AgentConfigError(f"agent {agent!r} has action space {space}; controllers in "
                               "`agents` need Discrete(n) spaces starting at 0")
    return int(space.n)


def observation_shape(env: ParallelEnv, agent: str) -> list[int] | None:
    """``agent``'s observation shape as a list (JSON-ready), or None for a space without one."""
    shape = getattr(env.observation_space(agent), "shape", None)
    return None if shape is None else [int(n) for n in shape]


def _json_fields(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config fields JSON can hold, and the names of those it cannot (e.g. classes)."""
    kept, dropped = {}, []
    for key, value in config.items():
        try:
            kept[key] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            dropped.append(key)
    return kept, dropped


def build_config(cls: type[C], options: Mapping[str, Any], extra_field: str | None = None) -> C:
    """``cls(**options)``, failing clearly on unknown names.

    With ``extra_field``, unknown names are collected into that dict field instead (how
    ``mat-dqn`` passes any other SB3 ``DQN`` argument through).
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    known = {k: v for k, v in options.items() if k in names}
    unknown = {k: v for k, v in options.items() if k not in names}
    if extra_field is not None:
        known[extra_field] = {**dict(known.get(extra_field) or {}), **unknown}
    elif unknown:
        hints = {k: difflib.get_close_matches(k, names, n=2) for k in unknown}
        raise AgentConfigError(f"unknown hyperparameters for {cls.__name__}: {hints} "
                               f"(name: close matches); valid names: "
                               + (", ".join(names) if names else f"none, {cls.__name__} takes "
                                  "no hyperparameters"))
    try:
        return cls(**known)
    except TypeError as error:
        raise AgentConfigError(f"bad hyperparameters for {cls.__name__}: {error}") from error


def require_recipes(name: str, value: Any) -> None:
    """Raise ``AgentConfigError`` unless ``value`` is a list or tuple of recipes, each a mapping
    of agent to action (index or name), as ``SelectorConfig.recipes`` and
    ``RolloutConfig.jumps`` take; the actions are checked against the env's later."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) \
            or not all(isinstance(r, Mapping) and all(isinstance(k, str) for k in r)
                       for r in value):
        raise AgentConfigError(f"{name} must be a list of recipes, each a mapping of agent to "
                               f"action (e.g. [{{\"opt\": \"sgd\"}}]), got {value!r}")


def mapping_of_ints(name: str, values: Mapping[str, int | str], sizes: Mapping[str, int],
                    names: Mapping[str, Sequence[str]] | None = None) -> dict[str, int]:
    """Validate a per-agent dict of action indices against the action sizes; with ``names``
    (each agent's action names, ``env.action_names``) an action may also be given by name."""
    out = {}
    for agent, value in values.items():
        if agent not in sizes:
            raise AgentConfigError(f"{name}: unknown agent {agent!r}; agents are {list(sizes)}")
        if isinstance(value, str):
            value = _action_index(name, agent, value, (names or {}).get(agent), sizes[agent])
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= int(value) < sizes[agent]:
            raise AgentConfigError(f"{name}[{agent!r}]={value!r} is outside 0..{sizes[agent] - 1}"
                                   + ("" if names is None else " (or give an action name)"))
        out[agent] = int(value)
    return out


def _action_index(name: str, agent: str, value: str, choices: Sequence[str] | None,
                  size: int) -> int:
    """The index of action ``value`` among ``choices`` (an agent's action names)."""
    if choices is None:
        raise AgentConfigError(f"{name}[{agent!r}]={value!r}: this env does not name its actions "
                               f"(it has no action_names); give an index in 0..{size - 1}")
    if value not in choices:
        close = difflib.get_close_matches(value, list(choices), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise AgentConfigError(f"{name}[{agent!r}]={value!r} is not an action of {agent!r}: "
                               f"{hint}choose from {', '.join(choices)} (or an index in "
                               f"0..{size - 1})")
    return list(choices).index(value)


def action_names(env: ParallelEnv, agents: Sequence[str]) -> dict[str, list[str]] | None:
    """Each agent's action names, from an env (or wrapper) that has ``action_names(agent)``
    (``MLICTrainingEnv``, ``envs.ControlSpaces``); None for an env that does not name them."""
    lookup = getattr(env, "action_names", None)
    return None if lookup is None else {a: list(lookup(a)) for a in agents}

"""Offline RL from the Minari dataset: mat-dqn's four SB3 DQN agents trained on stored
transitions alone, never stepping an env, then saved for the real env.

    python -m benchmarks.dataset export              # the dataset, once
    python examples/offline_dqn.py --out runs/offline-dqn
    python -m benchmarks.protocol --algo run:runs/offline-dqn --targets heldout,mnist

Each transition of the dataset's train tasks (the held-out ones are for evaluation) goes
through ``controller.observe`` as if it had just happened: it lands in every agent's replay
buffer and SB3's ``DQN.train`` takes a gradient step on a replayed batch. ``--passes`` runs
over the data that many times. With no exploration and no new data, this is offline DQN
(Agarwal et al., 2020): it can overrate actions the data rarely took.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import minari
import numpy as np

import envs
from agents import make_controller
from agents.base import Transition


def main(dataset_id: str = "mlic/digits-v1-mixed-v0", out: str = "runs/offline-dqn",
         passes: int = 5, seed: int = 0) -> Path:
    dataset = minari.load_dataset(dataset_id)
    info = json.loads(dataset.storage.metadata["description"])
    # the dataset names the catalogue it was recorded in (one without the name: classic)
    catalogue = info.get("catalogue", envs.LEGACY_CATALOGUE)
    spaces = envs.ControlSpaces(envs.EnvConfig(observation="relative", catalogue=catalogue))
    controller = make_controller("mat-dqn", spaces, seed=seed, exploration_initial_eps=0.0,
                                 exploration_final_eps=0.0)
    episodes = [e for e in dataset.iterate_episodes()
                if info["splits"][info["tasks"][int(e.infos["task"][0, 0])]] == "train"]
    controller.begin(passes * sum(len(e.actions) for e in episodes))
    rng, start = np.random.default_rng(seed), time.perf_counter()
    for _ in range(passes):
        for i in rng.permutation(len(episodes)):
            _replay(controller, episodes[i])
    controller.training = False
    Path(out).mkdir(parents=True, exist_ok=True)
    controller.save(Path(out) / "best")
    summary = {"algo": "mat-dqn", "task_set": info["task_set"],
               "episodes": 0, "cpu_hours": (time.perf_counter() - start) / 3600,
               "env_settings": {"observation": "relative", "catalogue": catalogue},
               "command": f"python examples/offline_dqn.py --out {out} --passes {passes}",
               "offline": {"dataset": dataset_id, "episodes": len(episodes), "passes": passes}}
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return Path(out)


def _replay(controller: Any, episode: Any) -> None:
    """Every step of a stored episode, observed as the env would have handed it over."""
    agents = controller.agents
    for t in range(len(episode.actions)):
        last = t == len(episode.actions) - 1
        controller.observe(Transition(
            observations={a: episode.observations[t] for a in agents},
            actions={a: int(x) for a, x in zip(agents, episode.actions[t])},
            rewards={a: float(episode.rewards[t]) for a in agents},
            next_observations={a: episode.observations[t + 1] for a in agents},
            terminations={a: bool(episode.terminations[t]) for a in agents},
            truncations={a: bool(episode.truncations[t]) or last for a in agents},
            infos={a: {} for a in agents}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset-id", default="mlic/digits-v1-mixed-v0")
    parser.add_argument("--out", default="runs/offline-dqn")
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    print(f"saved {main(args.dataset_id, args.out, args.passes)}/best")

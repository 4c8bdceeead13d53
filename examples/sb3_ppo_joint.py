"""Stable-Baselines3 PPO picks the whole recipe at once: one ``MultiDiscrete`` action.

``envs.make_joint(..., flatten=False)`` is a plain Gymnasium env whose action holds one
entry per agent (``aug``, ``opt``, ``lrs``, ``loss``); PPO's ``MlpPolicy`` gives each entry
its own categorical head. Observation and reward are the shared ones of the ParallelEnv.

    python examples/sb3_ppo_joint.py            # 4 episodes of 25 decisions on mlic-digits
"""
from __future__ import annotations

from typing import Any

from stable_baselines3 import PPO

import envs


def main(total_timesteps: int = 100, n_steps: int = 25, seed: int = 0, env_id: str = "mlic-digits",
         **env_overrides: Any) -> dict[str, Any]:
    """Train PPO for ``total_timesteps`` decisions, then play one greedy episode.

    ``env_overrides`` go to ``envs.make`` (e.g. ``max_decisions=3``). Returns the model and
    the evaluation episode's recipes and final val / test mAP.
    """
    env = envs.make_joint(env_id, flatten=False, **env_overrides)
    # seed= seeds SB3's global generators too: fine in a script, not inside library code
    model = PPO("MlpPolicy", env, n_steps=n_steps, batch_size=n_steps, n_epochs=4,
                gamma=0.5, seed=seed, verbose=0)
    model.learn(total_timesteps=total_timesteps)
    obs, _ = env.reset(seed=seed + 1)
    recipes, done = [], False
    while not done:  # one greedy episode
        obs, _, terminated, truncated, info = env.step(model.predict(obs, deterministic=True)[0])
        recipes.append(info["config"])
        done = terminated or truncated
    env.close()
    return {"model": model, "recipes": recipes, "val_mAP": info["metrics"]["mAP"],
            "test_mAP": info["test_metrics"]["mAP"]}


if __name__ == "__main__":
    out = main()
    print(f"val mAP {out['val_mAP'] or 0:.1f}, test mAP {out['test_mAP'] or 0:.1f}")
    print(f"last recipe {out['recipes'][-1]}")

"""Stable-Baselines3 DQN picks the whole recipe at once: one ``Discrete`` joint index.

SB3's DQN needs a ``Discrete`` action, so ``envs.make_joint(..., flatten=True)`` numbers
every joint choice (8 x 4 x 5 x 5 = 800 with all four agents); ``env.decode(i)`` tells
which recipe index ``i`` stands for.

    python examples/sb3_dqn_joint.py            # 4 episodes of 25 decisions on mlic-digits
"""
from __future__ import annotations

from typing import Any

from stable_baselines3 import DQN

import envs


def main(total_timesteps: int = 100, learning_starts: int = 10, seed: int = 0,
         env_id: str = "mlic-digits", **env_overrides: Any) -> dict[str, Any]:
    """Train DQN for ``total_timesteps`` decisions, then play one greedy episode.

    ``env_overrides`` go to ``envs.make``. Returns the model and the evaluation episode's
    recipes and final val / test mAP.
    """
    env = envs.make_joint(env_id, flatten=True, **env_overrides)
    model = DQN("MlpPolicy", env, learning_starts=learning_starts, batch_size=16,
                buffer_size=10_000, train_freq=1, target_update_interval=10,
                exploration_fraction=0.5, gamma=0.5, seed=seed, verbose=0)
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

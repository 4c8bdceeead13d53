"""MA2ML (Wang et al., CVPR 2023) and its critic-free ablation, ``ma2ml-lite``.

* ``policy_team``: what both share: per-agent softmax policies on the global state, with
  target policies, an entropy bonus and a KL trust region; the per-step / pipeline settings.
* ``nets``: the policy networks and the centralized joint-action critic.
* ``critic``: ``ma2ml``, counterfactual (COMA-style) advantages from the critic, off-policy.
* ``lite``: ``ma2ml-lite``, REINFORCE with a learned state-value baseline.
"""
from __future__ import annotations

from agents.ma2ml.critic import MA2MLConfig, MA2MLController
from agents.ma2ml.lite import MA2MLLiteConfig, MA2MLLiteController
from agents.ma2ml.policy_team import REWARD_SOURCES, SETTINGS, PolicyTeamConfig

__all__ = ["MA2MLConfig", "MA2MLController", "MA2MLLiteConfig", "MA2MLLiteController",
           "PolicyTeamConfig", "REWARD_SOURCES", "SETTINGS"]

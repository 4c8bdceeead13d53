"""``mlic-surrogate-v0``: the MLIC env's interface with dynamics fitted on real transitions.

``envs.make("mlic-surrogate-v0")`` builds ``SurrogateEnv`` on the bundled fit
(``weights/digits-v1.npz``, fitted on the ``benchmarks.dataset`` Minari dataset of
``digits-v1``; its card ``weights/digits-v1.json`` gives the command and the measured
fidelity). ``model`` holds the ensemble, ``env`` the ParallelEnv.
"""
from envs.surrogate.env import (SETTINGS, SURROGATE_ID, WEIGHTS, SurrogateEnv, make_surrogate,
                                surrogate_from_settings)
from envs.surrogate.model import Ensemble

__all__ = ["Ensemble", "SETTINGS", "SURROGATE_ID", "SurrogateEnv", "WEIGHTS", "make_surrogate",
           "surrogate_from_settings"]

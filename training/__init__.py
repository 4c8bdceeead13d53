"""Running controllers on environments.

* ``episode``: the one episode driver (``run``, ``run_episode``) and its callback interface;
* ``callbacks``: recording, logging, checkpoints, progress, stopping, evaluation;
* ``config`` / ``fields``: ``RunConfig`` and the flags derived from the config dataclasses;
* ``loop``: one ``run_marl`` run (env + controller + callbacks + outputs), ``run_marl``: its CLI;
* ``logs``, ``checkpoint``, ``report``: what a run writes;
* ``meta``, ``rollouts``, ``workers``, ``meta_train``, ``publish``: meta-training across a task
  set and publishing to the zoo;
* ``user_loop``: ``DynamicRecipe``, a controller inside the user's own training loop
  (``lightning``: the same as a Lightning callback).
"""

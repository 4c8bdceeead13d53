"""Running controllers on environments, grouped by product.

The shell entry points users type sit at the top: ``python -m training.run_marl`` (one run),
``python -m training.meta_train`` (meta-training across a task set) and
``python -m training.publish`` (a trained controller into the zoo). The code behind them:

* ``core``: what every product shares: the one episode driver (``episode``) and its
  ``callbacks``, ``RunConfig`` and the flags derived from config dataclasses (``config``,
  ``fields``), ``logs``, atomic ``checkpoint``\\ s, stop ``signals``, Ray's console noise;
* ``run``: one ``run_marl`` run (``loop``: env + controller + callbacks + outputs) and its
  ``report``;
* ``meta``: meta-training in synchronous ``rounds``, the episodes its rollout workers play
  (``rollouts``) and the worker pools (``workers``: in-process or Ray);
* ``user_loop``: ``DynamicRecipe``, a controller inside the user's own training loop
  (``lightning``: the same as a Lightning callback).
"""

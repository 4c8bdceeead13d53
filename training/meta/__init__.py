"""Meta-training, ``python -m training.meta_train``: one controller learns across many episodes
of many tasks in synchronous ``rounds``; rollout workers play the episodes (``rollouts``) in
process or on Ray (``workers``)."""

"""Learning from the rollout expert: its demonstrations, and learners that turn them into a
1x controller (expert iteration: a slow search teaches a fast reactive policy).

* ``demonstrations``: the expert's every decision on a task set's train tasks (candidates,
  scores, choice), recorded resumably;
* ``learners``: behaviour cloning of its choice and Q regression on every candidate's score,
  fitted into ``mat-dqn``'s Q-networks, so that the result loads, publishes and fine-tunes
  (``training.meta_train --init``) as any mat-dqn controller does; DAgger rounds on top.

``python -m training.imitate`` runs them.
"""

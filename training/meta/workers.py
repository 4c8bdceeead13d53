"""Rollout worker pools: play a round of episode jobs in-process or on Ray actors.

Both pools take a list of :class:`training.meta.rollouts.EpisodeJob` and return their records
in job order, so the learner sees the same sequence whatever runs them. Both also score the
``rollout`` expert's candidates (``score``: each candidate on a fork of the env, results in
candidate order; ``agents.rollout.ForkScorer``)::

    with make_pool(workers=2, address=None) as pool:    # a local ray.init()
        records = pool.map(jobs, spec, learner.actor_state())

* :class:`InProcessPool` (``--workers 1``) plays the jobs one after another here; it needs
  no Ray.
* :class:`RayPool` keeps one actor per worker (one CPU, one torch thread each). Job ``i``
  goes to actor ``i % workers``. The actor state is put in Ray's object store once per
  round. An actor that dies mid-episode (killed, out of memory, its node lost) costs only
  that episode: the pool starts a fresh actor and plays the job again, up to
  ``max_attempts`` times; the record's ``attempts`` says how often it ran. Because a job's
  seeds fix its episode, the repeat is the episode the dead actor would have played.

``address`` joins an existing cluster (``auto``, or ``HOST:PORT`` of its head); a
``HOST:PORT`` that does not answer within ``connect_timeout_s`` seconds is an error that
says how to start a cluster, instead of Ray's long retry loop.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from agents.rollout import Continuation, InProcessScorer, play_candidate
from envs.errors import MLICError
from training.core.ray_console import ray_console
from training.meta.rollouts import ControllerSpec, EpisodeJob, EpisodeRecord, play, torch_threads

RAY_INSTALL = "pip install -c constraints.txt -e '.[ray]'"


class WorkerPoolError(MLICError, RuntimeError):
    """Rollout workers could not be started, reached, or kept alive."""


class InProcessPool:
    """Plays every job here, in order (``--workers 1``)."""

    workers = 1

    def map(self, jobs: Sequence[EpisodeJob], spec: ControllerSpec,
            actor_state: Mapping[str, Any]) -> list[EpisodeRecord]:
        return [play(job, spec, actor_state) for job in jobs]

    def score(self, env: Any, candidates: Sequence[Mapping[str, int]],
              continuation: Continuation) -> list[tuple[float, int]]:
        """The rollout controller's candidates, here (``agents.rollout.ForkScorer``)."""
        return InProcessScorer().score(env, candidates, continuation)

    def pids(self) -> list[int]:
        return [os.getpid()]

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InProcessPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RayPool:
    """``workers`` Ray actors, each playing its share of a round's jobs."""

    def __init__(self, workers: int, *, address: str | None = None, max_attempts: int = 3,
                 connect_timeout_s: float = 5.0) -> None:
        try:
            import ray
        except ImportError as error:
            raise WorkerPoolError(f"--workers {workers} runs rollouts on Ray, which is not "
                                  f"installed: {RAY_INSTALL} (or use --workers 1)") from error
        self.ray = ray
        self.workers = workers
        self.max_attempts = max_attempts
        if address not in (None, "auto"):
            _require_reachable(address, connect_timeout_s)
        self._started = not ray.is_initialized()
        if self._started:
            _start_ray(ray, workers, address)
        elif address not in (None, "auto"):
            raise WorkerPoolError(
                f"--address {address}: Ray is already up in this process (ray.init ran "
                "before), so the pool would not join that cluster; call ray.shutdown() first, "
                "or leave out --address to use the instance that is up")
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0)(_RolloutActor)
        self.actors = [self._actor_class.remote() for _ in range(workers)]
        self.restarts = 0
        """Actors replaced after dying."""

    def map(self, jobs: Sequence[EpisodeJob], spec: ControllerSpec,
            actor_state: Mapping[str, Any]) -> list[EpisodeRecord]:
        state_ref = self.ray.put(dict(actor_state))
        records, attempts = self._gather(
            len(jobs), lambda actor, i: actor.play.remote(jobs[i], spec, state_ref),
            lambda i: f"episode {jobs[i].task.name} (round {jobs[i].round}, worker "
                      f"{jobs[i].worker})")
        for record, count in zip(records, attempts):
            record.attempts = count
        return records

    def score(self, env: Any, candidates: Sequence[Mapping[str, int]],
              continuation: Continuation) -> list[tuple[float, int]]:
        """The rollout controller's candidates, each on a fork of ``env`` played by an actor
        (``agents.rollout.ForkScorer``). The env is pickled once (a pickled env is a fork,
        ``MLICTrainingEnv.__reduce__``); the actors run torch on this process's thread
        count, so the scores are those the forks would give here."""
        env_ref = self.ray.put(env)
        threads = torch.get_num_threads()
        results, _ = self._gather(
            len(candidates),
            lambda actor, i: actor.score.remote(env_ref, dict(candidates[i]), continuation,
                                                threads),
            lambda i: f"rollout candidate {dict(candidates[i])}")
        return results

    def _gather(self, count: int, submit: Callable[[Any, int], Any],
                describe: Callable[[int], str]) -> tuple[list[Any], list[int]]:
        """Run calls ``0..count-1`` (call ``i`` on actor ``i % workers``) and return their
        results in order, and how often each was started: a call whose actor died is played
        again on a fresh actor, with the later calls queued on the dead one."""
        pending = {i: submit(self.actors[i % self.workers], i) for i in range(count)}
        attempts = {i: 1 for i in pending}
        results: dict[int, Any] = {}
        for i in range(count):
            while i not in results:
                try:
                    results[i] = self.ray.get(pending[i])
                except (self.ray.exceptions.RayActorError,
                        self.ray.exceptions.WorkerCrashedError) as error:
                    if attempts[i] >= self.max_attempts:
                        raise WorkerPoolError(f"{describe(i)} lost its worker {attempts[i]} "
                                              f"times; last: {error}") from error
                    self._replace(i % self.workers)
                    attempts[i] += 1
                    pending[i] = submit(self.actors[i % self.workers], i)
                    # later calls queued on the dead actor died with it: resubmit those too
                    for k in range(i + 1, count):
                        if k % self.workers == i % self.workers and k not in results:
                            pending[k] = submit(self.actors[k % self.workers], k)
        return [results[i] for i in range(count)], [attempts[i] for i in range(count)]

    def _replace(self, slot: int) -> None:
        self.restarts += 1
        self.actors[slot] = self._actor_class.remote()

    def pids(self) -> list[int]:
        """Process ids of the live actors (the worker-kill test uses them)."""
        return self.ray.get([a.pid.remote() for a in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self._started:
            self.ray.shutdown()

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _RolloutActor:
    """A Ray actor's body: ``play`` per job."""

    def pid(self) -> int:
        return os.getpid()

    def play(self, job: EpisodeJob, spec: ControllerSpec,
             actor_state: Mapping[str, Any]) -> EpisodeRecord:
        return play(job, spec, actor_state)

    def score(self, env: Any, candidate: Mapping[str, int], continuation: Continuation,
              threads: int) -> tuple[float, int]:
        with torch_threads(threads):
            return play_candidate(env, candidate, continuation)  # env: a fork, unpickled here


def make_pool(workers: int, address: str | None = None) -> InProcessPool | RayPool:
    """``InProcessPool`` for one local worker, else a ``RayPool``."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise WorkerPoolError(f"--workers must be a positive integer, got {workers!r} "
                              "(1 runs in-process without Ray)")
    if workers == 1 and address is None:
        return InProcessPool()
    return RayPool(workers, address=address)


def _start_ray(ray: Any, workers: int, address: str | None) -> None:
    """``ray.init`` for a local instance, or to join ``address`` (checked reachable before)."""
    if address is None:
        with ray_console():
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        return
    try:
        with ray_console():
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise WorkerPoolError(
            f"could not join the Ray cluster at --address {address}: {error}. Start one with "
            "`ray start --head` on the head node, or leave out --address for a local Ray") from error


def _require_reachable(address: str, timeout_s: float) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise WorkerPoolError(f"--address {address!r} must be 'auto' or HOST:PORT (the head's "
                              "GCS address, e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise WorkerPoolError(
            f"no Ray cluster answers at --address {address} within {timeout_s:.0f} s ({error}). "
            "Start one with `ray start --head --port PORT` there, or leave out --address for "
            "a local Ray") from error

"""Shared pytest fixtures and the one tiny-env settings object, ``TINY``.

Under pytest-xdist (``make test`` runs ``-n 2``) each worker process gets its share of the
cores, for torch, numpy's BLAS and (through ``OMP_NUM_THREADS``) the CLIs and Ray workers it
starts: two workers each running two busy-waiting threads on two cores run the suite at half
its speed.

Fixtures: tiny on-disk datasets (built once per session), a fresh cache dir, a factory of
tiny envs, and one torch thread for the tiny-MLP controller tests. The session datasets
must not be modified by tests; a test that needs to break a file builds its own copy with
the writers in ``benchmarks.quality.tiny_datasets``.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

import envs
from benchmarks.quality import tiny_datasets


def pytest_configure(config: pytest.Config) -> None:
    # Ray 2.60 turns token authentication on for a new local cluster and sets RAY_AUTH_MODE in
    # the process; the README tests then move HOME, where the token (~/.ray/auth_token) is not,
    # and the next head's GCS dies at start ("Ray couldn't find an authentication token",
    # two CI runs on 2026-12-04). The tests' clusters are bound to 127.0.0.1: no tokens.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:  # in an xdist worker: its share of the cores
        from threadpoolctl import threadpool_limits
        threads = max(1, (os.cpu_count() or 1) // int(workers))
        torch.set_num_threads(threads)
        threadpool_limits(limits=threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)


@dataclass(frozen=True)
class TinySettings:
    """Env overrides that make every env id train in well under a second per decision."""

    image_size: int = 16
    max_train_images: int = 48
    max_eval_images: int = 48
    max_decisions: int = 3
    steps_per_decision: int = 2
    batch_size: int = 16
    backbone: str = "small_cnn_half"
    """A quarter of ``small_cnn``'s weights: smaller checkpoints, faster tiny episodes."""

    def overrides(self, **changes: Any) -> dict[str, Any]:
        """Keyword overrides for ``envs.make`` (``changes`` win)."""
        return {**asdict(self), **changes}

    def flags(self) -> list[str]:
        """The same settings as ``run_marl`` flags, plus ``--no-progress``."""
        pairs = [(f"--{k.replace('_', '-')}", str(v)) for k, v in asdict(self).items()]
        return [x for pair in pairs for x in pair] + ["--no-progress"]


TINY = TinySettings()
"""The tiny env every test builds (``TINY.overrides()``, ``TINY.flags()``)."""


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny MLPs run fastest, and least disturbed by other jobs, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def _ray_cluster() -> Iterator[Any]:
    """Two Ray nodes of one CPU each on the loopback address, up for the whole session: a
    start costs about 8 s on two cores, so the Ray tests share one (see ``ray_cluster``)."""
    ray = pytest.importorskip("ray")
    import ray._private.ray_constants as ray_constants
    from ray.cluster_utils import Cluster
    patch = pytest.MonkeyPatch()
    # Ray rewrites 127.0.0.1 in an address to the machine's own IP, where a head bound to
    # the loopback does not answer, unless it is told that this is a one-machine cluster
    patch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    loopback = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(initialize_head=True, head_node_args=loopback)
    try:
        cluster.add_node(**loopback)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        patch.undo()


@pytest.fixture()
def ray_cluster(_ray_cluster: Any) -> Any:
    """The session's two-node Ray cluster, this process joined to it as the driver: the code
    under test finds Ray up and uses it (``RayPool`` and ``pbt.ray_session`` start Ray only
    where none is). A test may leave it (``ray.shutdown()``) to join through ``--address
    ray_cluster.address`` itself. Under ``make test`` (``--dist loadscope``) each xdist worker
    that plays a Ray test's module starts the cluster once."""
    import ray
    if not ray.is_initialized():
        from training.core.ray_console import ray_console
        with ray_console():
            ray.init(address=_ray_cluster.address, log_to_driver=False, configure_logging=False)
    return _ray_cluster


@pytest.fixture(scope="session")
def voc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding ``VOCdevkit/VOC2007`` (see ``tiny_datasets.VOC_OBJECTS``)."""
    return tiny_datasets.write_voc(tmp_path_factory.mktemp("voc"))


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A COCO 2014 root with ``annotations/`` and ``train2014/``, ``val2014/``."""
    return tiny_datasets.write_coco(tmp_path_factory.mktemp("coco"))


@pytest.fixture(scope="session")
def csv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV-folder dataset with ``images/``, ``labels.csv`` and ``classes.txt``."""
    return tiny_datasets.write_csv(tmp_path_factory.mktemp("csv"))


@pytest.fixture()
def data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty cache directory for one test."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    """Point ``$MLIC_CACHE_DIR`` at a session temp dir so tests never touch ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MLIC_CACHE_DIR", str(tmp_path_factory.mktemp("mlic-cache")))
    mp.delenv("MLIC_DATA_ROOT", raising=False)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache shared by the env tests, so each dataset is decoded once per session."""
    return tmp_path_factory.mktemp("env-cache")


@pytest.fixture(scope="session")
def tiny_env(voc_root: Path, coco_root: Path, csv_root: Path, env_cache: Path):
    """``tiny_env(env_id, **overrides)``: a ``TINY`` env of any id on the session fixtures."""
    roots = {"voc": voc_root, "coco": coco_root, "csv": csv_root}

    def make(env_id: str, **overrides: Any) -> envs.MLICTrainingEnv:
        kwargs = TINY.overrides(cache_dir=str(env_cache), **overrides)
        root = roots.get(envs.spec(env_id).config.dataset)
        if root is not None:
            kwargs["data_root"] = str(root)
        return envs.make(env_id, **kwargs)
    return make

"""Shared pytest fixtures: tiny on-disk datasets (built once per session) and a fresh cache dir.

The session datasets must not be modified by tests; a test that needs to break
a file builds its own copy with the writers in ``benchmarks.tiny_datasets``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import envtools
from benchmarks import tiny_datasets


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
    """``tiny_env(env_id, **overrides)``: a tiny env on the session fixtures (see ``envtools.TINY``)."""
    roots = {"mlic-voc": voc_root, "mlic-coco": coco_root, "mlic-csv": csv_root}
    return envtools.tiny_factory(roots, env_cache)

"""Shared pytest fixtures: tiny on-disk datasets (built once per session) and a fresh cache dir.

The session datasets must not be modified by tests; a test that needs to break
a file builds its own copy with the writers in ``fixtures_data``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import envtools
import fixtures_data


@pytest.fixture(scope="session")
def voc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding ``VOCdevkit/VOC2007`` (see ``fixtures_data.VOC_OBJECTS``)."""
    return fixtures_data.write_voc(tmp_path_factory.mktemp("voc"))


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A COCO 2014 root with ``annotations/`` and ``train2014/``, ``val2014/``."""
    return fixtures_data.write_coco(tmp_path_factory.mktemp("coco"))


@pytest.fixture(scope="session")
def csv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV-folder dataset with ``images/``, ``labels.csv`` and ``classes.txt``."""
    return fixtures_data.write_csv(tmp_path_factory.mktemp("csv"))


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
    roots = {"voc": voc_root, "coco": coco_root, "csv": csv_root}
    return envtools.tiny_factory(roots, env_cache)

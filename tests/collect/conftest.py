"""Fixtures of the collect tests: a populated deployment, copied for each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.collect.world import IngestWorld, ingest_world, populate
from tests.support import PostgresDatabases


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One deployment built per session (building takes seconds); tests get copies."""
    path = tmp_path_factory.mktemp("template") / "deployment"
    return path, populate(path)


@pytest.fixture
def deployment_dir(tmp_path: Path, template: tuple[Path, dict[str, str]]) -> Path:
    copy = tmp_path / "deployment"
    shutil.copytree(template[0], copy)
    return copy


@pytest.fixture
def world(deployment_dir: Path, template: tuple[Path, dict[str, str]]) -> Iterator[IngestWorld]:
    with ingest_world(deployment_dir, dict(template[1])) as built:
        yield built


@pytest.fixture
def postgres_world(tmp_path: Path, postgres_databases: PostgresDatabases) -> Iterator[IngestWorld]:
    """The same world on PostgreSQL (region and control databases), built for the test."""
    tokens = populate(tmp_path / "deployment", postgres_databases.url_template)
    with ingest_world(tmp_path / "deployment", tokens) as built:
        yield built

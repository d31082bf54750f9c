"""Fixtures of the collect tests: a populated deployment, copied for each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.collect.world import IngestWorld, ingest_world, populate


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

"""Fixtures of the rights tests: a real deployment with synthetic subjects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.rights.world import World, build_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with build_world(tmp_path) as built:
        yield built

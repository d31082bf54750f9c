"""Fixtures of the sharing tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.sharing.world import World, build_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with build_world(tmp_path) as built:
        yield built

"""Fixtures of the witness tests: a witness in a temporary directory, with a clock passed in."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.witness.support import FakeClock, SyntheticLog

from servinfo.witness.directory import init_witness, open_witness
from servinfo.witness.service import Witness

WITNESS_NAME = "witness.example/w1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def witness_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "witness"
    init_witness(directory, WITNESS_NAME)
    return directory


@pytest.fixture
def log() -> SyntheticLog:
    return SyntheticLog().append(10)


@pytest.fixture
def witness(witness_dir: Path, clock: FakeClock, log: SyntheticLog) -> Witness:
    opened = open_witness(witness_dir, clock=clock)
    opened.store.add_log(log.origin, [log.vkey])
    return opened

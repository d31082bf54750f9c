"""servinfo.retention.ledger: the shred ledger's chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.support import PostgresDatabases, require_postgres

from servinfo.retention.ledger import (
    ERASURE,
    KEYS_DESTROYED,
    LedgerBroken,
    LedgerEntry,
    LedgerMissing,
    RecoveryLedger,
)

AT = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "keys" / "shred-ledger.db")
        return
    require_postgres()
    databases = PostgresDatabases()
    try:
        yield databases.new("ledger")
    finally:
        databases.drop_all()


def test_rows_chain_and_a_changed_or_removed_row_is_found(url: str) -> None:
    mirrored: list[LedgerEntry] = []
    ledger = RecoveryLedger(url, mirror=mirrored.append)
    first = ledger.append(ERASURE, {"pseudonym": "ab" * 16}, deployment_id="d1", at=AT)
    second = ledger.append(
        KEYS_DESTROYED, {"region": "eu", "keys": ["k1"]}, deployment_id="d1", at=AT
    )
    ledger.append(
        KEYS_DESTROYED, {"region": "eu", "keys": ["k2"]}, deployment_id="d1", at=AT, mirror=False
    )
    assert (first.seq, second.seq) == (0, 1)
    assert [e.seq for e in mirrored] == [0, 1]
    assert ledger.verify() == 3
    assert next(e.body for e in ledger.entries(1)) == {"region": "eu", "keys": ["k1"]}
    with ledger.engine.begin() as connection:
        connection.execute(
            text("UPDATE recovery_shred_ledger SET body = :body WHERE seq = 1"),
            {"body": '{"keys":[],"region":"eu"}'},
        )
    with pytest.raises(LedgerBroken, match="row 1 of the recovery ledger was changed"):
        ledger.verify()
    with ledger.engine.begin() as connection:
        connection.execute(text("DELETE FROM recovery_shred_ledger WHERE seq = 1"))
    with pytest.raises(LedgerBroken, match="lacks row 1"):
        ledger.verify()
    ledger.close()


def test_a_ledger_that_must_exist_is_not_created(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "nowhere" / "shred-ledger.db")
    ledger = RecoveryLedger(url, must_exist=True)
    assert not ledger.exists()
    with pytest.raises(LedgerMissing, match="does not exist"):
        ledger.length()
    assert not (tmp_path / "nowhere").exists()

"""The sharing branch (s0001) creates exactly the tables the models describe, on SQLite and
PostgreSQL, and the legal-request store works on both."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from tests.support import PostgresDatabases

from servinfo.sharing import SHARING_MIGRATIONS, ReviewConflict
from servinfo.sharing.legal import LegalRequestStore, LegalScope, new_request
from servinfo.sharing.models import SHARING_TABLES, sharing_metadata
from servinfo.store import create_engine_for, migrate_control
from servinfo.store.migrations import VERSION_TABLES

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control.db'}"
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        url = databases.new("sharing")
    built = create_engine_for(url)
    try:
        for _ in range(2):  # idempotent
            migrate_control(built, [SHARING_MIGRATIONS])
        yield built
    finally:
        built.dispose()


def _only_sharing(name: str | None, type_: str, _parent: Any) -> bool:
    return type_ != "table" or name in SHARING_TABLES


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLES["control"],
                "compare_type": True,
                "include_name": _only_sharing,
            },
        )
        assert list(compare_metadata(context, sharing_metadata)) == []


def test_a_legal_request_moves_one_step_at_a_time(engine: Engine) -> None:
    store = LegalRequestStore(engine)
    request = new_request(
        authority="Police", country="DE", instrument="order", deadline=dt.date(2026, 12, 21),
        scope=LegalScope(("subj-1",), ("account",), NOW - dt.timedelta(days=30), NOW),
        gag=True, gag_until=None, agreement=None, derogation=None, recipient_key="k",
        intake_by="counsel-a", at=NOW,
    )  # fmt: skip
    store.add(request)
    assert store.get(request.request_id) == request
    approved = replace(request, state="approved", reviewed_by="counsel-b", reviewed_at=NOW,
                       reasons="valid", approved_scope=request.scope)  # fmt: skip
    store.move(request, approved)
    assert store.get(request.request_id) == approved
    with pytest.raises(ReviewConflict):
        store.move(request, approved)  # no longer 'received'
    assert [r.request_id for r in store.all()] == [request.request_id]

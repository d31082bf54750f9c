"""A fresh deployment for a benchmark: a temporary data directory, and its own
PostgreSQL databases (on the local server) dropped afterwards with every copy."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import insert

from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.store.models import SubjectRow

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/"


@contextmanager
def deployment_for(backend: str, label: str = "bench") -> Iterator[Deployment]:
    """A deployment on ``backend`` (``sqlite`` or ``postgresql``), gone after the block.

    Every PostgreSQL database whose name starts with the region's or control
    database's prefix is dropped, so copies named ``<database>_<suffix>`` go too.
    """
    prefix = f"servinfo_bench_{secrets.token_hex(4)}"
    template = (
        f"postgresql+psycopg://postgres@127.0.0.1:5432/{prefix}_{{name}}"
        if backend == "postgresql"
        else None
    )
    with tempfile.TemporaryDirectory(prefix=f"servinfo-{label}-") as folder:
        data_dir = Path(folder) / "deployment"
        try:
            create_deployment(data_dir, {}, database_url_template=template)
            deployment = open_deployment(data_dir, {})
            try:
                yield deployment
            finally:
                deployment.close()
        finally:
            if backend == "postgresql":
                drop_databases(prefix)


def drop_databases(prefix: str) -> None:
    with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
        names = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (name,) in names:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def subject_name(index: int) -> str:
    """The bench's subject ids: ``bench-0000042``."""
    return f"bench-{index:07d}"


def register_subjects(
    deployment: Deployment, subjects: int, *, org: str, region: str, created_at: dt.datetime
) -> None:
    """``subjects`` subjects of one organization in ``region``, inserted in bulk."""
    deployment.directory.add_organization(org, "Bench Org", region)
    rows = [
        {
            "subject_id": subject_name(i),
            "org_id": org,
            "home_region": region,
            "jurisdiction": "DE",
            "created_at": created_at,
        }
        for i in range(subjects)
    ]
    with deployment.control.begin() as connection:
        for start in range(0, len(rows), 50_000):
            connection.execute(insert(SubjectRow), rows[start : start + 50_000])

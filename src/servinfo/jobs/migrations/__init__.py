"""The job queue's Alembic branch (label ``jobs``) of the control database.

Pass :data:`JOBS_MIGRATIONS` to :func:`servinfo.store.migrations.migrate_control`;
its first revision depends on the control tree's initial one.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["JOBS_MIGRATIONS"]

#: The folder of the ``jobs`` branch's revision scripts.
JOBS_MIGRATIONS: Path = Path(__file__).parent

"""The sharing domain's Alembic branch of the control database (legal requests).

Pass :data:`SHARING_MIGRATIONS` to :func:`servinfo.store.migrations.migrate_control`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHARING_MIGRATIONS"]

SHARING_MIGRATIONS: Path = Path(__file__).parent

"""The collect package's Alembic branch of the control database.

Pass :data:`COLLECT_MIGRATIONS` to
:func:`servinfo.store.migrations.migrate_control`; its first revision depends
on the control tree's initial one::

    migrate_control(engine, [COLLECT_MIGRATIONS])
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["COLLECT_MIGRATIONS"]

#: The folder of the ``collect`` branch's revision scripts.
COLLECT_MIGRATIONS: Path = Path(__file__).parent

"""The rights package's Alembic branch of the control database.

Pass :data:`RIGHTS_MIGRATIONS` to
:func:`servinfo.store.migrations.migrate_control`; its first revision depends
on the control tree's initial one::

    migrate_control(engine, [RIGHTS_MIGRATIONS])
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RIGHTS_MIGRATIONS"]

#: The folder of the ``rights`` branch's revision scripts.
RIGHTS_MIGRATIONS: Path = Path(__file__).parent

"""The ledgers' Alembic branch of the control database.

Pass :data:`LEDGER_MIGRATIONS` to
:func:`servinfo.store.migrations.migrate_control`; its first revision depends
on the control tree's initial one, so the ledgers add their tables without
the store knowing about them::

    migrate_control(engine, [LEDGER_MIGRATIONS])
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["LEDGER_MIGRATIONS"]

#: The folder of the ``ledgers`` branch's revision scripts.
LEDGER_MIGRATIONS: Path = Path(__file__).parent

"""A new log for a restored deployment: the restored copy's log is emptied before it goes on.

A restore puts back a control database whose log ends where the backup was
taken, while the log's witnesses have cosigned it further. Going on from the
restored copy under the same origin would show them a rollback, which they
refuse, and rightly. So a restored deployment starts a *new* log under a new
origin (:func:`start_new_log` empties the copy's entries, checkpoints,
cosignatures, heads and subject index, and resets the sequencing state), and
its first entry names the old origin and that log's last checkpoint
(:data:`LOG_RESTORED`): an auditor follows the chain from the new log back to
the old one, and no witness ever sees a tree shrink. The subjects' salts stay:
later entries about a subject keep the same pseudonym.
"""

from __future__ import annotations

from sqlalchemy import Engine

from servinfo.audit import _storage
from servinfo.audit.merkle import CompactRange
from servinfo.store.engines import write_transaction

__all__ = ["LOG_RESTORED", "start_new_log"]

#: The action of a restored log's first entry.
LOG_RESTORED = "audit_log_restored"

_EMPTIED = (
    "audit_entries",
    "audit_checkpoints",
    "audit_cosignatures",
    "audit_heads",
    "audit_subject_entries",
)


def start_new_log(engine: Engine) -> int:
    """Empty the log of a restored control database; how many entries the copy held."""
    with write_transaction(engine) as connection:
        held = _storage.read_state(connection)[0]
        for table in _EMPTIED:
            connection.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
        connection.exec_driver_sql(
            "UPDATE audit_state SET next_seq = 0, frontier = %s, mac = NULL WHERE id = 1"
            if engine.dialect.name != "sqlite"
            else "UPDATE audit_state SET next_seq = 0, frontier = ?, mac = NULL WHERE id = 1",
            (CompactRange().to_bytes(),),
        )
    return held

"""Re-wrapping a region's data keys after its KEK was rotated.

``servinfo keys rotate --region R`` adds a KEK version to the keyring
(:meth:`servinfo.crypto.Keyring.rotate`) and then calls
:func:`rewrap_data_keys`. Records are untouched: only the small wrapped data
keys change. Each key row names the KEK version that wrapped it, and old
versions stay in the keyring, so reads and writes work before, during and
after the re-wrap; :func:`kek_usage` shows when no key needs an old version any more.

Work goes in batches, one short transaction each (keyset pagination by key
id), so a large region never holds a long lock and an interrupted run simply
resumes. A key erased meanwhile is skipped: the update only touches rows that
still hold key material under the old version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, func, select, update

from servinfo.crypto import Keyring, data_key_context, kek_purpose, rewrap
from servinfo.store.engines import write_transaction
from servinfo.store.errors import StoreError
from servinfo.store.models import DataKeyRow

__all__ = ["Progress", "RewrapReport", "kek_usage", "rewrap_data_keys"]

#: Called as ``progress(done, total)`` after each batch.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RewrapReport:
    region: str
    #: The KEK version every live key is now wrapped under.
    kek_id: str
    rewrapped: int
    #: Live keys that were under an older version when the run started.
    total: int


def rewrap_data_keys(
    engine: Engine,
    region: str,
    keyring: Keyring,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> RewrapReport:
    """Re-wrap every live data key of ``region`` not under its current KEK version."""
    if batch_size < 1:
        raise StoreError(f"batch_size must be positive, got {batch_size}")
    keyring.reload()  # the rotation may have happened in another process
    current = keyring.current(kek_purpose(region))
    stale = (DataKeyRow.wrapped.is_not(None), DataKeyRow.kek_id != current.key_id)
    with engine.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(DataKeyRow).where(*stale)) or 0
    if progress is not None:
        progress(0, total)
    done = 0
    after = ""
    statement = (
        update(DataKeyRow)
        .where(
            DataKeyRow.id == bindparam("key_id"),
            DataKeyRow.kek_id == bindparam("old_kek"),
            DataKeyRow.wrapped.is_not(None),
        )
        .values(wrapped=bindparam("new_wrapped"), kek_id=current.key_id)
    )
    while True:
        with write_transaction(engine) as connection:
            rows = connection.execute(
                select(
                    DataKeyRow.id,
                    DataKeyRow.subject_id,
                    DataKeyRow.retention_class,
                    DataKeyRow.kek_id,
                    DataKeyRow.wrapped,
                )
                .where(*stale, DataKeyRow.id > after)
                .order_by(DataKeyRow.id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            params = []
            for row in rows:
                assert row.wrapped is not None  # selected with wrapped IS NOT NULL
                context = data_key_context(row.subject_id, region, row.retention_class)
                params.append(
                    {
                        "key_id": row.id,
                        "old_kek": row.kek_id,
                        "new_wrapped": rewrap(
                            keyring.get(row.kek_id), current, row.wrapped, context
                        ),
                    }
                )
            connection.execute(statement, params)
        done += len(rows)
        after = rows[-1].id
        if progress is not None:
            progress(min(done, total), total)
    return RewrapReport(region, current.key_id, done, total)


def kek_usage(engine: Engine) -> dict[str, int]:
    """How many live data keys each KEK version wraps, for ``servinfo keys status``."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(DataKeyRow.kek_id, func.count())
            .where(DataKeyRow.wrapped.is_not(None))
            .group_by(DataKeyRow.kek_id)
            .order_by(DataKeyRow.kek_id)
        )
        return {kek_id: int(count) for kek_id, count in rows}

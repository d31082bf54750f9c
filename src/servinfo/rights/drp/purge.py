"""Deleting the DRP's rows of requests whose case files reach the end of their retention.

A ``drp_requests`` row maps an agent's request id to the servinfo request that
carried it; it names no subject, but it is the last tie between the two ids, so
it goes with the case file (``request_purge`` job, :mod:`servinfo.jobs.kinds`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, delete

from servinfo.rights.drp.models import DrpRequestRow
from servinfo.store.engines import write_transaction

__all__ = ["forget_requests"]

_CHUNK = 500  # ids per IN list: far below either backend's parameter limit


def forget_requests(engine: Engine, rights_request_ids: Sequence[str]) -> int:
    """Delete the DRP rows of these servinfo requests; how many."""
    ids = list(rights_request_ids)
    deleted = 0
    with write_transaction(engine) as connection:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            deleted += connection.execute(
                delete(DrpRequestRow).where(DrpRequestRow.rights_request_id.in_(chunk))
            ).rowcount
    return deleted

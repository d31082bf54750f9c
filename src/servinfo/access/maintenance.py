"""Reading stored free text for re-redaction: work of the system, for no purpose.

Re-redaction (:mod:`servinfo.collect.reredaction`) reads every record of a kind
with free text, redacts its text again under the current policy and detectors,
and writes it back through :class:`servinfo.store.RecordWriter`. Those reads are
not decided one by one: no principal reads, nothing read leaves the process but
the text redacted further, back into the store. The caller audits each run, one
entry per region with counts and no personal data. Only the access layer reads
records out of the store; this is its reader for that pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping

from sqlalchemy import Engine

from servinfo.crypto import Keyring
from servinfo.store import SubjectDirectory
from servinfo.store.reading import RecordReader, StoredRecord

__all__ = ["FreeTextReader", "StoredRecord"]


class FreeTextReader:
    """The readable records of some kinds in one region, for re-redaction."""

    def __init__(
        self,
        directory: SubjectDirectory,
        region_engines: Mapping[str, Engine],
        keyring: Keyring,
        *,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self._reader = RecordReader(directory, region_engines, keyring, today=today)

    def __repr__(self) -> str:
        return "FreeTextReader(...)"

    def count(self, region: str, kinds: Collection[str]) -> int:
        """How many records of ``kinds`` ``region`` holds, readable and not past retention."""
        return self._reader.count_region(region, kinds) if kinds else 0

    def records(
        self, region: str, kinds: Collection[str], *, batch_size: int = 200
    ) -> Iterator[StoredRecord]:
        """Each of them, decrypted one page at a time, in a stable order (records
        rewritten meanwhile keep their place)."""
        if not kinds:
            return iter(())
        return self._reader.iter_region(region, batch_size, kinds=kinds)

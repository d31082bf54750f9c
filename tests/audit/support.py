"""Helpers of the audit tests (imported as ``tests.audit.support``): time, backends, events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from servinfo.audit import RecordedEvent

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
START_MS = 1_740_830_400_000  # NOW in milliseconds
#: The test log's name in its checkpoints.
ORIGIN = "example.com/servinfo/test"


class FakeClock:
    """Time passed in: starts at NOW; tests move it with :meth:`advance`."""

    def __init__(self, ms: int = START_MS) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@dataclass
class AuditBackend:
    name: str
    engine: Engine
    #: The URL other processes open (a file for SQLite, a database for PostgreSQL).
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.name == "sqlite"


def event(i: int, subject: str | None = "subj-1") -> RecordedEvent:
    """A synthetic access decision, different for each ``i``."""
    return RecordedEvent(
        action="decision",
        actor=f"p_{i % 3}",
        subject_id=subject,
        purpose="technical_support",
        outcome="allow" if i % 4 else "deny",
        reasons=("role support may read account for technical_support",),
        record_ids=(f"01JF{i:022d}",),
        details={"rows": i, "region": "eu"},
    )

"""What happened to one accepted object: the API's answer for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome"]

_CREATED = frozenset({"stored", "created", "registered"})


@dataclass(frozen=True)
class Outcome:
    """What happened to one accepted object: the API's answer for it."""

    type: str
    id: str
    status: str
    kind: str | None = None
    region: str | None = None
    dropped_fields: int = 0
    redactions: Mapping[str, int] = field(default_factory=dict)
    #: Whether the idempotency answer was already committed with the write (not sent).
    answered: bool = field(default=False, compare=False)

    @property
    def http_status(self) -> int:
        return 201 if self.status in _CREATED else 200

    def to_dict(self) -> dict[str, Any]:
        if self.type != "record":
            answer: dict[str, Any] = {"type": self.type, "id": self.id, "status": self.status}
            if self.region is not None:
                answer["region"] = self.region
            return answer
        return {
            "type": "record",
            "id": self.id,
            "kind": self.kind,
            "region": self.region,
            "dropped_fields": self.dropped_fields,
            "redactions": dict(self.redactions),
        }

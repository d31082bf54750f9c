"""Processors under contract: their entries, contract states and what they cover.

The policy declares processors (``policy.processors``); each has a contract
(reference, first and last day, and a termination date once ended early),
the categories, purposes and regions it covers, and its country. A
sub-processor is an entry of its own naming the processor that engages it: it
covers no more than that processor, and its work ends with either contract.
Adding one is a policy change, so it shows in the records of processing (which
list every processor) and in the notice's version.

Whether a processor may receive a subject's data is decided by the access
layer (contract in force on the day, scope, and the transfer towards the
processor's country, with a mechanism for that direction); :func:`require_in_force`
is the sharing service's own check at the instant of the disclosure, so a
termination or an expiry stops disclosures at once, before the day's tables
are rebuilt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from servinfo.policy.model import ContractState, Policy
from servinfo.sharing.errors import DisclosureDenied, InvalidSharingInput

__all__ = ["ProcessorEntry", "processor_entries", "require_in_force"]


@dataclass(frozen=True)
class ProcessorEntry:
    processor_id: str
    name: str
    service: str
    country: str
    reference: str
    signed: dt.date
    expires: dt.date
    terminated: dt.date | None
    state: ContractState
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    regions: tuple[str, ...]
    sub_processor_of: str | None
    sub_processors: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.processor_id,
            "name": self.name,
            "service": self.service,
            "country": self.country,
            "contract": {
                "reference": self.reference,
                "signed": self.signed.isoformat(),
                "expires": self.expires.isoformat(),
                "terminated": self.terminated.isoformat() if self.terminated else None,
                "state": self.state,
            },
            "categories": list(self.categories),
            "purposes": list(self.purposes),
            "regions": list(self.regions),
            "sub_processor_of": self.sub_processor_of,
            "sub_processors": list(self.sub_processors),
        }


def processor_entries(policy: Policy, today: dt.date) -> list[ProcessorEntry]:
    """Every processor and sub-processor with its contract's state on ``today``."""
    return [
        ProcessorEntry(
            processor_id=pid,
            name=p.name,
            service=p.service,
            country=p.country,
            reference=p.contract.reference,
            signed=p.contract.signed,
            expires=p.contract.expires,
            terminated=p.contract.terminated,
            state=policy.contract_state(pid, today),
            categories=tuple(p.categories),
            purposes=tuple(p.purposes),
            regions=tuple(p.regions),
            sub_processor_of=p.sub_processor_of,
            sub_processors=tuple(sorted(policy.sub_processors(pid))),
        )
        for pid, p in sorted(policy.processors.items())
    ]


def require_in_force(policy: Policy, processor_id: str | None, when: dt.datetime) -> str:
    """The contract reference of ``processor_id`` if its contract (and, for a
    sub-processor, its processor's) is in force at ``when``; else why not."""
    if processor_id is None or processor_id not in policy.processors:
        raise InvalidSharingInput(
            f"a processor principal is bound to one of the policy's processors "
            f"({', '.join(sorted(policy.processors))}), got {processor_id!r}"
        )
    processor = policy.processors[processor_id]
    state = policy.contract_state(processor_id, when.date())
    if state != "in_force":
        contract = processor.contract
        raise DisclosureDenied(
            f"processor {processor_id!r}: contract {contract.reference} is {state} on "
            f"{when.date().isoformat()} (runs {contract.signed}..{contract.expires}"
            f"{f', terminated {contract.terminated}' if contract.terminated else ''}; "
            f"expected in_force)"
        )
    return processor.contract.reference

"""The information GDPR Art. 15(1) owes the subject, compiled from the policy and the ledgers.

Everything here is derived, never written by hand: purposes with their legal
basis under the subject's regime (a), the categories held (b), recipients —
processors whose contracts reach the subject's region, the staff roles that
may read, and the disclosures actually registered (c), retention per kind
under the regime (d), the rights and the supervisory authority (e, f), the
source services (g), automated decisions with the logic involved — the
pre-credit check (h), and the transfers out of the subject's home region
with their safeguards (Art. 15(2)). ``report.html`` renders it (Jinja2,
autoescaped: record values are the subject's and are never trusted as markup).
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from servinfo.access.reads import ReadRecord
from servinfo.ledgers import Disclosure
from servinfo.policy.model import Policy
from servinfo.store import Subject

__all__ = ["art15_information", "render_report"]


def art15_information(
    policy: Policy,
    subject: Subject,
    regime_id: str,
    records: Sequence[ReadRecord],
    disclosures: Sequence[Disclosure],
) -> dict[str, Any]:
    regime = policy.regimes[regime_id]
    held = Counter(r.kind for r in records)
    kinds = policy.kinds()
    home = subject.home_region
    purposes = []
    for pid, purpose in policy.purposes.items():
        ground = purpose.grounds.get(regime_id)
        purposes.append(
            {
                "id": pid,
                "name": purpose.name,
                "description": purpose.description,
                "categories": [policy.categories[c].name for c in purpose.categories],
                "basis": regime.bases.get(ground.basis, ground.basis) if ground else "—",
                "detail": ground.detail if ground else "",
                "objectable": purpose.objectable,
            }
        )
    categories = [
        {
            "id": cid,
            "name": category.name,
            "description": category.description,
            "kinds": [
                {"id": f"{cid}.{kid}", "name": kind.name, "count": held.get(f"{cid}.{kid}", 0)}
                for kid, kind in category.kinds.items()
            ],
        }
        for cid, category in policy.categories.items()
    ]
    processors = [
        {
            "name": p.name,
            "service": p.service,
            "country": p.country,
            "categories": [policy.categories[c].name for c in p.categories],
            "contract": p.contract.reference,
        }
        for p in policy.processors.values()
        if home in p.regions
    ]
    roles = [
        {"name": r.name, "description": r.description, "purposes": r.purposes}
        for r in policy.roles.values()
        if r.purposes and r.categories and home in r.regions
    ]
    retention = []
    for kind_id, kind in kinds.items():
        rule = kind.retention
        retention.append(
            {
                "kind": kind.name,
                "id": kind_id,
                "period": rule.by_regime.get(regime_id, rule.period),
                "starts": "after the account is closed"
                if rule.starts == "account_closed"
                else "after collection",
                "reason": rule.reason or policy.retention_classes[rule.retention_class].description,
            }
        )
    sources = [
        {"name": s.name, "kinds": [kinds[k].name for k in s.kinds if held.get(k)]}
        for s in policy.services.values()
    ]
    automated = [
        {
            "name": p.name,
            "description": p.description,
            "fields": dict(p.fields),
            "categories": [policy.categories[c].name for c in p.categories],
            "objectable": p.objectable,
        }
        for p in policy.purposes.values()
        if p.automated_decisions
    ]
    transfers = [
        {
            "destination": policy.regions[dest].name if dest in policy.regions else dest,
            "safeguards": [
                {"name": policy.mechanisms[m].name, "reference": policy.mechanisms[m].reference}
                for m in mechanisms
            ],
        }
        for dest, mechanisms in policy.transfers.get(home, {}).items()
    ]
    return {
        "organization": policy.organization,
        "regime": regime,
        "home_region": policy.regions[home].name if home in policy.regions else home,
        "purposes": purposes,
        "categories": categories,
        "record_count": len(records),
        "processors": processors,
        "roles": roles,
        "disclosures": [
            {
                "recipient": d.recipient,
                "kind": d.recipient_kind,
                "basis": d.basis,
                "categories": list(d.categories),
                "purpose": d.purpose,
                "records": d.record_count,
                "reference": d.reference,
                "at": d.at.isoformat(),
            }
            for d in disclosures
        ],
        "retention": retention,
        "rights": list(regime.rights.values()),
        "sources": sources,
        "automated": automated,
        "transfers": transfers,
    }


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("servinfo.rights", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_report(
    information: dict[str, Any], records: Sequence[ReadRecord], request_id: str, now: dt.datetime
) -> str:
    """``report.html``; ``records`` are listed in the order given (the archive's order)."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        info=information,
        record_rows=_record_rows(records),
        request_id=request_id,
        generated_at=now.isoformat(timespec="seconds"),
    )


def _record_rows(records: Sequence[ReadRecord]) -> Markup:
    """The table rows of the records, escaped here rather than by the template.

    A Jinja loop costs several function calls per field, which for a subject
    with 100,000 records is most of the export's time. Every value is escaped
    as autoescaping would (``str`` of the value, then ``& < > " '``); numbers
    and booleans need no escaping, and a kind, region or field name is escaped
    once however many records repeat it.
    """
    escape = html.escape
    labels: dict[str, str] = {}
    heads: dict[tuple[str, str], str] = {}
    rows: list[str] = []
    add_row = rows.append
    for r in records:
        head = heads.get((r.kind, r.region))
        if head is None:
            head = f"</td><td>{escape(r.kind)}</td><td>{escape(r.region)}</td>\n<td>"
            heads[r.kind, r.region] = head
        cells: list[str] = []
        add = cells.append
        for name, value in r.fields.items():
            label = labels.get(name)
            if label is None:
                label = labels[name] = f"<code>{escape(name)}</code>: "
            kind = type(value)
            if kind is str:
                add(label + escape(value))
            elif kind is int or kind is float or kind is bool:
                add(label + str(value))
            else:
                add(label + escape(str(value)))
        add_row(f"<tr><td>{r.collected_at.isoformat()}{head}{'<br>'.join(cells)}</td></tr>\n")
    # Every value above went through escape(), or is a number or a boolean.
    return Markup("".join(rows))  # noqa: S704

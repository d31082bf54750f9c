"""The information GDPR Art. 15(1) owes the subject, compiled from the policy and the ledgers.

Everything here is derived, never written by hand: purposes with their legal
basis under the subject's regime (a), the categories held (b), recipients —
processors whose contracts reach the subject's region, the staff roles that
may read, and the disclosures actually registered (c), retention per kind
under the regime (d), the rights and the supervisory authority (e, f), the
source services (g), automated decisions with the logic involved — the
pre-credit check (h), and the transfers out of the subject's home region
with their safeguards (Art. 15(2)). What the subject did with their rights —
objections, consents, restrictions — and the legal holds that keep their data
come from the ledgers (:class:`LedgerEntries`); records past their retention
that a hold or the subject's request kept (the retention sweep marks them) are
listed by kind with the reason; and each right is stated as it
stands for them: "You objected to … on 4 May 2026; we no longer process your
data for it", not "You may object". ``report.html`` renders it (Jinja2,
autoescaped: record values are the subject's and are never trusted as markup);
booleans read yes/no. A hold's reason is not shown: it may concern a legal
matter the subject must not be told of; its date and scope are.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from servinfo.access.reads import ReadRecord
from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.note import Note
from servinfo.ledgers import Consent, Disclosure, Hold, Ledgers, Objection, Restriction
from servinfo.policy.countries import country_name
from servinfo.policy.model import Policy, Right
from servinfo.retention.schedule import period_for
from servinfo.rights.history import AccessHistory, Identifier
from servinfo.store import Subject

# Jinja2 and the notice builder (for its dates) are imported when an export is
# built: every command that opens a deployment imports this module, few export.
if TYPE_CHECKING:
    import jinja2

__all__ = ["LedgerEntries", "art15_information", "history_section", "render_report"]


@dataclass(frozen=True)
class LedgerEntries:
    """What the ledgers hold about one subject, history included, oldest first."""

    disclosures: tuple[Disclosure, ...] = ()
    objections: tuple[Objection, ...] = ()
    restrictions: tuple[Restriction, ...] = ()
    #: Every consent event; the latest of a scope decides.
    consents: tuple[Consent, ...] = ()
    #: The subject's own holds and those on its organization and partner.
    holds: tuple[Hold, ...] = ()

    @classmethod
    def of(
        cls, ledgers: Ledgers, subject_id: str, *, now: dt.datetime | None = None
    ) -> LedgerEntries:
        """The subject's entries as the subject may be shown them at ``now``: a disclosure
        withheld under a gag order is left out until the order lifts."""
        shown_at = now or dt.datetime.now(dt.UTC)
        return cls(
            disclosures=tuple(ledgers.disclosures(subject_id=subject_id, visible_at=shown_at)),
            objections=tuple(ledgers.objections(subject_id, include_withdrawn=True)),
            restrictions=tuple(ledgers.restrictions(subject_id, include_lifted=True)),
            consents=tuple(ledgers.consents(subject_id, include_history=True)),
            holds=tuple(ledgers.holds_for(subject_id, include_released=True)),
        )


def _named_recipients(policy: Policy, disclosures: Sequence[Disclosure]) -> list[dict[str, Any]]:
    """Who actually received the subject's data, by name (CJEU C-154/21: the recipients
    themselves, not their categories): a processor by its registered name and country, a
    third party or an authority by the id it was registered under; with the ground, the
    categories and the dates."""
    named: dict[str, dict[str, Any]] = {}
    for d in disclosures:
        processor = policy.processors.get(d.recipient) if d.recipient_kind == "processor" else None
        entry = named.setdefault(
            d.recipient,
            {
                "name": processor.name if processor else d.recipient,
                "kind": d.recipient_kind,
                "country": processor.country if processor else None,
                "bases": [],
                "categories": [],
                "first": d.at.isoformat(),
                "last": d.at.isoformat(),
                "disclosures": 0,
            },
        )
        entry["bases"] = sorted({*entry["bases"], d.basis})
        entry["categories"] = sorted({*entry["categories"], *d.categories})
        entry["last"] = d.at.isoformat()
        entry["disclosures"] += 1
    return sorted(named.values(), key=lambda r: (r["kind"], r["name"]))


def art15_information(
    policy: Policy,
    subject: Subject,
    regime_id: str,
    records: Sequence[ReadRecord],
    ledgers: LedgerEntries,
) -> dict[str, Any]:
    regime = policy.regimes[regime_id]
    standing = _standing(policy, ledgers)
    objected = {o.purpose: o for o in ledgers.objections if o.in_force}
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
                "objection": _objection_cell(purpose.objectable, objected.get(pid)),
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
            "country": country_name(p.country),
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
                "period": period_for(rule, regime_id),
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
            "destination": policy.regions[dest].name
            if dest in policy.regions
            else country_name(dest),
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
        "kept": _kept_past_retention(policy, records, ledgers),
        "home_region": policy.regions[home].name if home in policy.regions else home,
        "purposes": purposes,
        "categories": categories,
        "record_count": len(records),
        "processors": processors,
        "roles": roles,
        "recipients": _named_recipients(policy, ledgers.disclosures),
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
            for d in ledgers.disclosures
        ],
        "retention": retention,
        "rights": [
            {"name": r.name, "article": r.article, "status": _right_status(rid, r, standing)}
            for rid, r in regime.rights.items()
        ],
        "standing": standing,
        "sources": sources,
        "automated": automated,
        "transfers": transfers,
    }


def _kept_past_retention(
    policy: Policy, records: Sequence[ReadRecord], ledgers: LedgerEntries
) -> list[dict[str, Any]]:
    """Records past their retention that the sweep kept, by kind, and why.

    A legal hold keeps them (the hold's date and scope, not its reason: see the
    module docstring); without one in force, the subject's own request under
    way keeps them until it is answered.
    """
    counts = Counter(r.kind for r in records if r.kept)
    if not counts:
        return []
    holds = [h for h in ledgers.holds if h.in_force]
    if holds:
        why = "; ".join(
            f"a legal hold on {'your account' if h.subject_id else 'your organization'} "
            f"placed on {_day(h.placed_at)}"
            for h in holds
        )
        why = (
            f"Kept past its retention period by {why}, for the establishment, exercise "
            "or defence of legal claims; deleted once the hold is released."
        )
    else:
        why = "Kept past its retention period while your request is answered; deleted after."
    kinds = policy.kinds()
    return [
        {"kind": kinds[k].name if k in kinds else k, "records": n, "why": why}
        for k, n in sorted(counts.items())
    ]


def _day(at: dt.datetime) -> str:
    from servinfo.policy.notice import long_date

    return long_date(at.date())


def _objection_cell(objectable: bool, objection: Objection | None) -> str:
    if objection is not None:
        return f"You objected on {_day(objection.objected_at)}; we no longer process it for this."
    return "yes" if objectable else "no"


def _standing(policy: Policy, ledgers: LedgerEntries) -> dict[str, Any]:
    """The ledgers' entries as sentences, and what each right needs to say where it stands."""

    def purpose(pid: str | None) -> str:
        return policy.purposes[pid].name if pid in policy.purposes else str(pid)

    def scope(consent: Consent) -> str:
        if consent.purpose is not None:
            return purpose(consent.purpose)
        processor = policy.processors.get(str(consent.recipient))
        return f"sharing with {processor.name if processor else consent.recipient}"

    latest = {(c.purpose, c.recipient): c for c in ledgers.consents}
    return {
        "objections": [
            f"You objected to {purpose(o.purpose)} on {_day(o.objected_at)}; "
            + (
                "we no longer process your data for it."
                if o.withdrawn_at is None
                else f"you withdrew the objection on {_day(o.withdrawn_at)}."
            )
            for o in ledgers.objections
        ],
        "objected": [purpose(o.purpose) for o in ledgers.objections if o.in_force],
        "objectable": [
            p.name
            for pid, p in policy.purposes.items()
            if p.objectable and not any(o.in_force and o.purpose == pid for o in ledgers.objections)
        ],
        "consents": [
            f"You {'gave' if c.state == 'given' else 'withdrew'} your consent to {scope(c)} "
            f"on {_day(c.at)}."
            for c in ledgers.consents
        ],
        "consented": [scope(c) for c in latest.values() if c.state == "given"],
        "restrictions": [
            f"Restricted on {_day(r.restricted_at)} ({r.reason}): "
            + (
                f"in force; we store your data and use it only for "
                f"{', '.join(purpose(a) for a in r.allows) or 'nothing else'}."
                if r.lifted_at is None
                else f"lifted on {_day(r.lifted_at)}."
            )
            for r in ledgers.restrictions
        ],
        "restricted": [r for r in ledgers.restrictions if r.in_force],
        "restricted_notes": [
            f"Processing of your data is restricted since {_day(r.restricted_at)}: we store it "
            f"and use it only for {', '.join(purpose(a) for a in r.allows) or 'nothing else'}."
            for r in ledgers.restrictions
            if r.in_force
        ],
        "holds": [
            f"A legal hold on {'your account' if h.subject_id else 'your organization'} placed "
            f"on {_day(h.placed_at)}: "
            + (
                "in force; it keeps your data, and erasure waits until it is released."
                if h.released_at is None
                else f"released on {_day(h.released_at)}."
            )
            for h in ledgers.holds
        ],
        "held": any(h.in_force for h in ledgers.holds),
    }


def _right_status(right_id: str, right: Right, standing: dict[str, Any]) -> str:
    """Where the right stands for this subject, from the ledgers ("" when nothing to say)."""
    if right_id == "objection":
        said = []
        if standing["objected"]:
            them = "it" if len(standing["objected"]) == 1 else "them"
            said.append(
                f"You objected to {', '.join(standing['objected'])}; "
                f"we no longer process your data for {them}."
            )
        if standing["objectable"]:
            said.append(f"You may object to {', '.join(standing['objectable'])}.")
        return " ".join(said) or "No processing of your data is open to objection."
    if right_id == "restriction":
        if standing["restricted"]:
            since = _day(standing["restricted"][-1].restricted_at)
            return f"A restriction of processing is in force since {since}."
        return "No restriction is in force; you may ask for one."
    if right_id == "withdraw_consent":
        if standing["consented"]:
            return f"You may withdraw your consent to {', '.join(standing['consented'])}."
        return "You have no consent in force to withdraw."
    if right_id == "erasure" and standing["held"]:
        return "A legal hold is in force: we erase your data once it is released."
    return ""


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("servinfo.rights", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_report(
    information: dict[str, Any],
    records: Sequence[ReadRecord],
    request_id: str,
    now: dt.datetime,
    history: dict[str, Any] | None = None,
) -> str:
    """``report.html``; ``records`` are listed in the order given (the archive's order);
    ``history`` is :func:`history_section`'s (None: the export has no access history)."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        info=information,
        record_rows=_record_rows(records),
        request_id=request_id,
        generated_at=now.isoformat(timespec="seconds"),
        history=history,
    )


# -- the access history ---------------------------------------------------------------

_OUTCOMES = {"allow": "allowed", "deny": "refused"}
_SELF = {"subject": "You (your own account)", "authorized_agent": "Your authorized agent"}


def history_section(policy: Policy, history: AccessHistory) -> dict[str, Any]:
    """What ``report.html`` says of the access history: how it is proved, what is withheld,
    and one row per entry (time, what happened, purpose, who by role and legal entity,
    region, transfer mechanism, policy version, the identifiers it names)."""
    evidence = history.evidence
    checkpoint = Checkpoint.from_body(Note.parse(evidence.checkpoint).text)
    return {
        "count": len(history.entries),
        "rows": _history_rows(policy, history),
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "witnessed": evidence.witnessed,
        "cosigned_by": list(evidence.cosigned_by),
        "withheld": [{"ground": w.ground, "description": w.description} for w in history.withheld],
    }


def _history_rows(policy: Policy, history: AccessHistory) -> Markup:
    """The table rows of the history, escaped here (see :func:`_record_rows`: a subject may
    have tens of thousands of entries; most cells repeat, and are escaped once each)."""
    escape = html.escape
    escaped: dict[str, str] = {}

    def cell(text: str) -> str:
        found = escaped.get(text)
        if found is None:
            found = escaped[text] = escape(text)
        return found

    names = history.names()
    labels = _Labels(policy)
    rows: list[str] = []
    add = rows.append
    for entry in history.entries:
        f = entry.fields
        details: Mapping[str, Any] = f["details"]
        role, entity = _who(f, details, history, names, labels)
        repeated = (
            _what(f, details, labels),
            labels.purpose(f["purpose"]),
            role,
            entity,
            labels.region(details.get("region")),
            labels.mechanism(details.get("mechanism")),
            f["policy_version"] or "—",
        )
        add(
            f'<tr id="e{entry.index}"><td>{entry.index}</td><td>{_time(f["at"])}</td><td>'
            + "</td><td>".join(map(cell, repeated))
            + f"</td><td>{escape(_named(f, details, names))}</td></tr>\n"
        )
    # Every value above went through escape(), or is a number or a time.
    return Markup("".join(rows))  # noqa: S704


class _Labels:
    """The policy's names for the ids entries hold, looked up once each."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._cache: dict[tuple[str, str], str] = {}

    def _name(self, table: str, key: str | None, found: Mapping[str, Any]) -> str:
        if not key:
            return "—"
        label = self._cache.get((table, key))
        if label is None:
            item = found.get(key)
            label = self._cache[table, key] = getattr(item, "name", key) if item else key
        return label

    def purpose(self, key: str | None) -> str:
        return self._name("purpose", key, self._policy.purposes)

    def role(self, key: str | None) -> str:
        return self._name("role", key, self._policy.roles)

    def entity(self, key: str | None) -> str:
        return self._name("entity", key, self._policy.legal_entities)

    def region(self, key: str | None) -> str:
        return self._name("region", key, self._policy.regions)

    def mechanism(self, key: str | None) -> str:
        return self._name("mechanism", key, self._policy.mechanisms)

    def category(self, key: str | None) -> str:
        return self._name("category", key, self._policy.categories)


def _time(at_ms: int) -> str:
    """An entry's time, UTC to the second."""
    moment = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _who(
    fields: Mapping[str, Any],
    details: Mapping[str, Any],
    history: AccessHistory,
    names: Mapping[str, Identifier],
    labels: _Labels,
) -> tuple[str, str]:
    """The actor as a role and a legal entity: staff are never named; the subject's own
    account (or agent) is "you"."""
    actor = fields["actor"]
    if isinstance(actor, dict):  # format 2: the subject's own principal, as a reference
        known = names.get(actor["ref"])
        own = history.actors.get(known.id) if known is not None else None
        return _SELF.get(own.own if own and own.own else "subject", _SELF["subject"]), "—"
    info = history.actors.get(actor)
    if info is not None and info.own:
        return _SELF.get(info.own, _SELF["subject"]), "—"
    role = details.get("role") or (info.role if info else None)
    entity = details.get("legal_entity") or (info.entity if info else None)
    return labels.role(role), labels.entity(entity)


def _what(fields: Mapping[str, Any], details: Mapping[str, Any], labels: _Labels) -> str:
    """What happened, in words."""
    action, outcome = fields["action"], fields["outcome"]
    category = details.get("category")
    if action == "decision":
        said = f"Access {_OUTCOMES.get(outcome, outcome or 'decided')}"
        return f"{said}: {labels.category(category)}" if category else said
    if action == "read":
        count = details.get("count", len(fields["record_ids"]))
        return f"Read {count} record{'s' if count != 1 else ''}"
    if action == "request_change":
        kind = str(details.get("type", "")).replace("_", " ")
        change = str(details.get("change", "")).replace("_", " ")
        state = str(outcome).replace("_", " ")
        return f"Your {kind} request: {change} ({state})"
    if action == "ledger_change":
        ledger = str(details.get("ledger", "")).replace("_", " ")
        return f"Your {ledger}: {details.get('change', outcome)}"
    if action == "disclosure":
        return (
            f"Disclosed {details.get('record_count', '')} record(s) to "
            f"{details.get('recipient', 'a recipient')} ({details.get('basis', '')})"
        )
    said = action.replace("_", " ").capitalize()
    return f"{said}: {outcome}" if outcome else said


def _named(
    fields: Mapping[str, Any], details: Mapping[str, Any], names: Mapping[str, Identifier]
) -> str:
    """The identifiers the entry names, as the person knows them: references of format 2
    resolved through ``subject.json``, format 1's ids as written."""
    keyed = fields["v"] == 2
    said: list[str] = []
    for record in fields["record_ids"][:_SHOWN_IDS]:
        known = names.get(record) if keyed else None
        said.append(f"record {known.id}" if known else f"record {record}")
    if len(fields["record_ids"]) > _SHOWN_IDS:
        said.append(f"and {len(fields['record_ids']) - _SHOWN_IDS} more records")
    for name, value in fields.get("links", {}).items():
        known = names.get(value)
        said.append(f"{known.kind} {known.id}" if known else f"{name.replace('_', ' ')} {value}")
    if not keyed and "request_id" in details:
        said.append(f"request {details['request_id']}")
    return "; ".join(said)


#: Record ids listed in one row of the history (the rest are counted).
_SHOWN_IDS = 5


def _record_rows(records: Sequence[ReadRecord]) -> Markup:
    """The table rows of the records, escaped here rather than by the template.

    A Jinja loop costs several function calls per field, which for a subject
    with 100,000 records is most of the export's time. Every value is escaped
    as autoescaping would (its text, then ``& < > " '``); numbers need no
    escaping, and a kind, region or field name is escaped once however many
    records repeat it. Booleans read yes/no, lists and objects as words too.
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
            elif kind is int or kind is float:
                add(label + str(value))
            else:
                add(label + escape(_words(value)))
        add_row(f"<tr><td>{r.collected_at.isoformat()}{head}{'<br>'.join(cells)}</td></tr>\n")
    # Every value above went through escape(), or is a number.
    return Markup("".join(rows))  # noqa: S704


def _words(value: object) -> str:
    """A record value as a person reads it: yes/no, nothing for None, lists joined."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_words(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_words(v)}" for k, v in value.items())
    return str(value)

"""The ledgers on the command line: one top-level group per ledger, verbs beneath.

::

    servinfo objection   add | withdraw | list     --subject S --purpose P
    servinfo restriction add | lift | show         --subject S [--reason R --allow P …]
    servinfo consent     give | withdraw | list    --subject S (--purpose P | --recipient R)
    servinfo hold        place | release | list    (--subject S | --org O) / --hold ID
    servinfo disclosure  register | list           [--subject S] [--recipient R] …

One group per ledger rather than one ``ledgers`` group, because people look
for the thing they record ("place a hold"), and the verbs differ per ledger as
they do in law (an objection is withdrawn, a restriction lifted, a hold
released). Every command authenticates with ``--token`` (or ``SERVINFO_TOKEN``)
and needs the ``manage_ledgers`` permission; the principal is the actor the
ledgers and the audit log record. ``--json`` prints the entries as data.
The commands only parse and print: :class:`~servinfo.ledgers.Ledgers` decides.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, human, print_json, table
from servinfo.cli._session import authorized

# Two Literal aliases the options are typed with; typer reads them when it builds the commands.
from servinfo.ledgers.entries import Basis, RecipientKind

if TYPE_CHECKING:
    from servinfo.ledgers.entries import Consent, Disclosure, Hold, Objection, Restriction
    from servinfo.ledgers.services import Ledgers

    _Entry = Objection | Restriction | Consent | Hold | Disclosure

__all__ = ["register"]

#: The permission every ledger command needs.
PERMISSION = "manage_ledgers"

objection_app = typer.Typer(help="Objections to processing (GDPR Art. 21).", no_args_is_help=True)
restriction_app = typer.Typer(
    help="Restrictions of processing (GDPR Art. 18).", no_args_is_help=True
)
consent_app = typer.Typer(help="Consents given and withdrawn.", no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds on subjects and organizations.", no_args_is_help=True)
disclosure_app = typer.Typer(help="The register of disclosures.", no_args_is_help=True)

Subject = Annotated[str, typer.Option("--subject", help="The subject's id.")]
OptionalSubject = Annotated[str | None, typer.Option("--subject", help="The subject's id.")]
Purpose = Annotated[str, typer.Option("--purpose", help="A purpose id of the policy.")]
OptionalPurpose = Annotated[
    str | None, typer.Option("--purpose", help="A purpose id of the policy.")
]
Recipient = Annotated[
    str | None, typer.Option("--recipient", help="A processor or third party id.")
]
Org = Annotated[str | None, typer.Option("--org", help="An organization's id.")]
Everything = Annotated[bool, typer.Option("--all", help="Include entries no longer in force.")]


def register(app: typer.Typer) -> None:
    app.add_typer(objection_app, name="objection")
    app.add_typer(restriction_app, name="restriction")
    app.add_typer(consent_app, name="consent")
    app.add_typer(hold_app, name="hold")
    app.add_typer(disclosure_app, name="disclosure")


@contextmanager
def _ledgers(
    data_dir: Path | None, token: str | None, token_file: Path | None
) -> Iterator[tuple[Ledgers, str]]:
    """The deployment's ledgers and the authenticated principal's name."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        yield deployment.ledgers, me.name


def _data(entry: _Entry) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in asdict(entry).items()
    }


def _show(entries: Sequence[_Entry], *, title: str, as_json: bool) -> None:
    """Entries as a JSON list, or as a table."""
    if as_json:
        print_json([_data(entry) for entry in entries])
        return
    if not entries:
        console.print(f"no {title.lower()}", markup=False)
        return
    columns = list(asdict(entries[0]))
    ids = [c for c in columns if c.endswith("_id") or c == "reference"]
    shown = table(*columns, ids=ids, title=title)
    for entry in entries:
        shown.add_row(*(human(value, key) for key, value in asdict(entry).items()))
    console.print(shown)


def _done(entry: _Entry, text: str, as_json: bool) -> None:
    if as_json:
        print_json(_data(entry))
    else:
        console.print(text, markup=False)


# -- objections ----------------------------------------------------------------------------


@objection_app.command("add")
def objection_add(
    subject: Subject,
    purpose: Purpose,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the subject's objection to an objectable purpose."""
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.object(subject, purpose, actor)
    _done(entry, f"{subject} objects to {purpose} (entry {entry.entry_id})", as_json)


@objection_app.command("withdraw")
def objection_withdraw(
    subject: Subject,
    purpose: Purpose,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw the subject's objection; the entry is kept as history."""
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.withdraw_objection(subject, purpose, actor)
    _done(entry, f"{subject} no longer objects to {purpose}", as_json)


@objection_app.command("list")
def objection_list(
    subject: Subject,
    everything: Everything = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The subject's objections in force (with --all, withdrawn ones too)."""
    with _ledgers(data_dir, token, token_file) as (ledgers, _actor):
        entries = ledgers.objections(subject, include_withdrawn=everything)
    _show(entries, title="Objections", as_json=as_json)


# -- restrictions --------------------------------------------------------------------------


@restriction_app.command("add")
def restriction_add(
    subject: Subject,
    reason: Annotated[str, typer.Option("--reason", help="Why (Art. 18(1)): kept, not logged.")],
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="A purpose Art. 18(2) still allows (repeat; default legal)."),
    ] = None,
    storage_only: Annotated[
        bool, typer.Option("--storage-only", help="Allow no purpose at all: storage only.")
    ] = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restrict processing of the subject's data."""
    allows: Sequence[str] = () if storage_only else (allow or ("legal",))
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.restrict(subject, reason, actor, allows=allows)
    shown = ", ".join(entry.allows) or "nothing but storage"
    _done(entry, f"{subject} restricted; still allowed: {shown}", as_json)


@restriction_app.command("lift")
def restriction_lift(
    subject: Subject,
    subject_informed: Annotated[
        bool,
        typer.Option(
            "--subject-informed",
            help="Confirm the subject was told before lifting (GDPR Art. 18(3)); required.",
        ),
    ] = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lift the subject's restriction, once they have been informed."""
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.lift_restriction(subject, actor, subject_informed=subject_informed)
    _done(entry, f"{subject}'s restriction lifted", as_json)


@restriction_app.command("show")
def restriction_show(
    subject: Subject,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The subject's restrictions, the one in force last."""
    with _ledgers(data_dir, token, token_file) as (ledgers, _actor):
        entries = ledgers.restrictions(subject)
    _show(entries, title="Restrictions", as_json=as_json)


# -- consents ------------------------------------------------------------------------------


@consent_app.command("give")
def consent_give(
    subject: Subject,
    notice_version: Annotated[
        str, typer.Option("--notice-version", help="The policy version whose notice they saw.")
    ],
    purpose: OptionalPurpose = None,
    recipient: Recipient = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record consent to one purpose or to disclosure to one recipient."""
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.give_consent(
            subject,
            purpose=purpose,
            recipient=recipient,
            notice_version=notice_version,
            actor=actor,
        )
    _done(entry, f"{subject} consents to {entry.scope}", as_json)


@consent_app.command("withdraw")
def consent_withdraw(
    subject: Subject,
    purpose: OptionalPurpose = None,
    recipient: Recipient = None,
    notice_version: Annotated[
        str | None,
        typer.Option("--notice-version", help="Default: the policy in force."),
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw a consent: the same options as giving it."""
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.withdraw_consent(
            subject,
            purpose=purpose,
            recipient=recipient,
            notice_version=notice_version,
            actor=actor,
        )
    _done(entry, f"{subject} withdrew consent to {entry.scope}", as_json)


@consent_app.command("list")
def consent_list(
    subject: Subject,
    everything: Everything = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The subject's consents in force (with --all, every give and withdrawal)."""
    with _ledgers(data_dir, token, token_file) as (ledgers, _actor):
        entries = ledgers.consents(subject, include_history=everything)
    _show(entries, title="Consents", as_json=as_json)


# -- holds and disclosures -----------------------------------------------------------------


@hold_app.command("place")
def hold_place(
    reason: Annotated[str, typer.Option("--reason", help="Why: kept, not logged.")],
    subject: OptionalSubject = None,
    org: Org = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Place a legal hold on one subject or one organization."""
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.place_hold(subject_id=subject, org_id=org, reason=reason, actor=actor)
    _done(entry, f"hold {entry.hold_id} placed on {subject or org}", as_json)


@hold_app.command("release")
def hold_release(
    hold: Annotated[str, typer.Option("--hold", help="The hold's id.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Release a legal hold; it is kept as history."""
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.release_hold(hold, actor)
    _done(entry, f"hold {hold} released", as_json)


@hold_app.command("list")
def hold_list(
    subject: OptionalSubject = None,
    org: Org = None,
    everything: Everything = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Holds on a subject (with its organization's and partner's), an organization, or all."""
    with _ledgers(data_dir, token, token_file) as (ledgers, _actor):
        if subject is not None:
            entries = ledgers.holds_for(subject, include_released=everything)
        else:
            entries = ledgers.holds(org_id=org, include_released=everything)
    _show(entries, title="Legal holds", as_json=as_json)


@disclosure_app.command("register")
def disclosure_register(
    recipient: Annotated[
        str, typer.Option("--recipient", help="Processor, third party, authority.")
    ],
    kind: Annotated[
        RecipientKind, typer.Option("--kind", help="processor, third_party, authority.")
    ],
    basis: Annotated[Basis, typer.Option("--basis", help="processor, consent, legal_requirement.")],
    subject: Subject,
    category: Annotated[list[str], typer.Option("--category", help="A category (repeat).")],
    purpose: Purpose,
    records: Annotated[int, typer.Option("--records", min=0, help="How many records.")],
    reference: Annotated[
        str | None, typer.Option("--reference", help="Legal request ref (consent/contract: auto).")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a disclosure made outside servinfo (e.g. to an authority)."""
    with _ledgers(data_dir, token, token_file) as (ledgers, actor):
        entry = ledgers.register_disclosure(
            recipient=recipient,
            recipient_kind=kind,
            basis=basis,
            subject_id=subject,
            categories=category,
            purpose=purpose,
            record_count=records,
            reference=reference,
            actor=actor,
        )
    _done(
        entry, f"disclosure {entry.disclosure_id} registered ({basis}, {entry.reference})", as_json
    )


@disclosure_app.command("list")
def disclosure_list(
    subject: OptionalSubject = None,
    recipient: Recipient = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Registered disclosures, oldest first."""
    with _ledgers(data_dir, token, token_file) as (ledgers, _actor):
        entries = ledgers.disclosures(subject_id=subject, recipient=recipient)
    _show(entries, title="Disclosures", as_json=as_json)

"""Sharing on the command line::

    servinfo processors list                              contracts and their state
    servinfo legal intake | review | list | show | disclose | lift-gag
    servinfo share consent-give | consent-withdraw | consent-disclose

Every command authenticates with ``--token`` (or ``SERVINFO_TOKEN``); the
sharing service checks the permission each step needs (``share_records``,
``review_legal_requests``, ``manage_ledgers``). The commands parse and print;
:class:`~servinfo.sharing.services.SharingService` decides.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, human, print_json, table
from servinfo.cli._session import authorized

if TYPE_CHECKING:
    from servinfo.deployment import Deployment
    from servinfo.sharing.legal import LegalRequest, LegalScope
    from servinfo.sharing.services import Package
    from servinfo.store import Principal

__all__ = ["legal_app", "processors_app", "register", "share_app", "transparency_app"]

processors_app = typer.Typer(help="Processors under contract.", no_args_is_help=True)
legal_app = typer.Typer(help="Legal requests: intake, review, disclosure.", no_args_is_help=True)
share_app = typer.Typer(help="Consents to disclosure, and disclosures under them.")
transparency_app = typer.Typer(help="The transparency report.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(processors_app, name="processors")
    app.add_typer(legal_app, name="legal")
    app.add_typer(share_app, name="share")
    app.add_typer(transparency_app, name="transparency")


Categories = Annotated[list[str], typer.Option("--category", help="A category id (repeat).")]
Subjects = Annotated[list[str], typer.Option("--subject", help="A subject id (repeat).")]
When = Annotated[dt.datetime | None, typer.Option(help="An ISO date and time (UTC if no offset).")]
Out = Annotated[Path, typer.Option("--out", help="Where to write the sealed package.")]


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@contextmanager
def _session(
    data_dir: Path | None, token: str | None, token_file: Path | None
) -> Iterator[tuple[Deployment, Principal]]:
    with authorized(data_dir, token, token_file=token_file) as (deployment, principal):
        yield deployment, principal


# -- processors ----------------------------------------------------------------------------


@processors_app.command("list")
def processors_list(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    on: Annotated[dt.datetime | None, typer.Option("--on", help="The day to judge.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every processor and sub-processor, with its contract and its state on the day."""
    from servinfo.sharing.contracts import processor_entries

    with authorized(data_dir, token, "manage_ledgers", token_file=token_file) as (deployment, _):
        day = (_utc(on) or dt.datetime.now(dt.UTC)).date()
        entries = processor_entries(deployment.runtime.refresh().policy, day)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    rows = table("id", "name", "country", "contract", "runs", "state", "engaged by", ids=["id"])
    for e in entries:
        runs = f"{e.signed}..{e.terminated or e.expires}"
        rows.add_row(
            e.processor_id, e.name, e.country, e.reference, runs, e.state, e.sub_processor_of or ""
        )
    console.print(rows)


# -- legal requests --------------------------------------------------------------------------


def _scope(
    subjects: list[str], categories: list[str], since: dt.datetime | None, until: dt.datetime | None
) -> LegalScope:
    from servinfo.sharing.legal import LegalScope

    return LegalScope(tuple(subjects), tuple(categories), _utc(since), _utc(until))


def _show(request: LegalRequest, as_json: bool) -> None:
    if as_json:
        print_json(request.to_dict())
        return
    for key, value in request.to_dict().items():
        console.print(f"{key}: {human(value, key)}", markup=False, highlight=False)


@legal_app.command("intake")
def legal_intake(
    authority: Annotated[str, typer.Option(help="The requesting authority.")],
    country: Annotated[str, typer.Option(help="Its country (ISO 3166-1 alpha-2).")],
    instrument: Annotated[str, typer.Option(help="The legal instrument and its reference.")],
    subject: Subjects,
    category: Categories,
    deadline: Annotated[dt.datetime, typer.Option(help="The date the answer is due.")],
    recipient_key: Annotated[str, typer.Option(help="The authority's X25519 public key (base64).")],
    since: When = None,
    until: When = None,
    gag: Annotated[bool, typer.Option(help="A gag order forbids telling the subject.")] = False,
    gag_until: When = None,
    agreement: Annotated[
        str | None, typer.Option(help="The international agreement (GDPR Art. 48).")
    ] = None,
    derogation: Annotated[
        str | None, typer.Option(help="The Art. 49 derogation recorded for it.")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take in a legal request: it waits for another principal's review."""
    with _session(data_dir, token, token_file) as (deployment, principal):
        request = deployment.sharing.intake(
            principal,
            authority=authority,
            country=country,
            instrument=instrument,
            scope=_scope(subject, category, since, until),
            deadline=deadline.date(),
            recipient_key=recipient_key,
            gag=gag,
            gag_until=_utc(gag_until),
            agreement=agreement,
            derogation=derogation,
        )
    _show(request, as_json)


@legal_app.command("review")
def legal_review(
    request_id: Annotated[str, typer.Argument(help="The legal request's id.")],
    decision: Annotated[str, typer.Option(help="approve, narrow or reject.")],
    reasons: Annotated[str, typer.Option(help="Why: kept with the request.")],
    subject: Annotated[
        list[str] | None, typer.Option("--subject", help="Narrowed: a subject (repeat).")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Narrowed: a category (repeat).")
    ] = None,
    since: When = None,
    until: When = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve, narrow or reject a request taken in by someone else."""
    from servinfo.sharing.errors import InvalidSharingInput

    if decision not in ("approve", "narrow", "reject"):
        raise InvalidSharingInput(f"--decision is approve, narrow or reject; got {decision!r}")
    with _session(data_dir, token, token_file) as (deployment, principal):
        narrowed = None
        if decision == "narrow":
            asked = deployment.sharing.legal_request(request_id).scope
            narrowed = _scope(
                subject or list(asked.subjects),
                category or list(asked.categories),
                since or asked.since,
                until or asked.until,
            )
        request = deployment.sharing.review(
            principal,
            request_id,
            decision=decision,  # type: ignore[arg-type]  # checked above
            reasons=reasons,
            narrowed=narrowed,
        )
    _show(request, as_json)


@legal_app.command("list")
def legal_list(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Legal requests, oldest first (permission share_records or review_legal_requests)."""
    with _session(data_dir, token, token_file) as (deployment, principal):
        _may_see_requests(deployment, principal)
        requests = deployment.sharing.legal_requests()
    if as_json:
        print_json([r.to_dict() for r in requests])
        return
    rows = table("id", "authority", "country", "state", "deadline", "gag", ids=["id"])
    for r in requests:
        rows.add_row(r.request_id, r.authority, r.country, r.state, str(r.deadline), human(r.gag))
    console.print(rows)


@legal_app.command("show")
def legal_show(
    request_id: Annotated[str, typer.Argument(help="The legal request's id.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """One legal request, with its review."""
    with _session(data_dir, token, token_file) as (deployment, principal):
        _may_see_requests(deployment, principal)
        request = deployment.sharing.legal_request(request_id)
    _show(request, as_json)


def _may_see_requests(deployment: Deployment, principal: Principal) -> None:
    from servinfo.access.errors import Forbidden

    principals = deployment.principal_service
    try:
        principals.require_permission(principal, "share_records")
    except Forbidden:
        principals.require_permission(principal, "review_legal_requests")


def _write_package(out: Path, package: Package, sealed_to: str, as_json: bool) -> None:
    """Write the sealed package to a new file (mode 0600), never over an existing one, and
    say what it holds (its manifest under ``--json``)."""
    assert package.sealed is not None
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(package.sealed)
    if as_json:
        print_json(package.manifest)
        return
    console.print(
        f"{package.manifest['record_count']} records sealed to {sealed_to}'s key: {out}",
        markup=False,
        highlight=False,
    )


@legal_app.command("disclose")
def legal_disclose(
    request_id: Annotated[str, typer.Argument(help="The legal request's id.")],
    out: Out,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Package the approved scope, signed and sealed to the authority's key."""
    if out.exists():
        raise typer.BadParameter(f"{out} exists; servinfo writes a new file", param_hint="--out")
    with _session(data_dir, token, token_file) as (deployment, principal):
        package = deployment.sharing.disclose_legal(principal, request_id)
    _write_package(out, package, "the authority", as_json)


@legal_app.command("lift-gag")
def legal_lift_gag(
    request_id: Annotated[str, typer.Argument(help="The legal request's id.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record that the gag order ended: the subjects are told, the disclosures show."""
    with _session(data_dir, token, token_file) as (deployment, principal):
        request = deployment.sharing.lift_gag(principal, request_id)
    _show(request, as_json)


# -- consents -----------------------------------------------------------------------------


@share_app.command("consent-give")
def consent_give(
    subject: Annotated[str, typer.Argument(help="The subject's id.")],
    recipient: Annotated[str, typer.Option(help="The third party's id.")],
    purpose: Annotated[str, typer.Option(help="The purpose it receives the data for.")],
    channel: Annotated[str, typer.Option(help="Where it was given: portal, paper …")] = "cli",
    expires: When = None,
    country: Annotated[
        str | None, typer.Option(help="Where no mechanism covers it: the country.")
    ] = None,
    risks: Annotated[str | None, typer.Option(help="The risks the subject was told.")] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a subject's explicit consent to disclosure to one recipient for one purpose."""
    with authorized(data_dir, token, "manage_ledgers", token_file=token_file) as (
        deployment,
        principal,
    ):
        request = {
            "subject": subject, "recipient": recipient, "purpose": purpose,
            "channel": channel, "country": country, "risks": risks,
            "expires": expires.isoformat() if expires else None,
        }  # fmt: skip
        consent = deployment.sharing.give_consent(
            subject,
            recipient=recipient,
            purpose=purpose,
            channel=channel,
            recorded_by=principal.name,
            request=request,
            expires_at=_utc(expires),
            country=country,
            risks=risks,
        )
    _print_consent(consent, as_json)


@share_app.command("consent-withdraw")
def consent_withdraw(
    subject: Annotated[str, typer.Argument(help="The subject's id.")],
    recipient: Annotated[str, typer.Option(help="The third party's id.")],
    purpose: Annotated[str, typer.Option(help="The purpose it was given for.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw it: the same arguments as giving it; it stops disclosures at once."""
    with authorized(data_dir, token, "manage_ledgers", token_file=token_file) as (
        deployment,
        principal,
    ):
        consent = deployment.sharing.withdraw_consent(
            subject, recipient=recipient, purpose=purpose, actor=principal.name
        )
    _print_consent(consent, as_json)


def _print_consent(consent: Any, as_json: bool) -> None:
    fields = {
        "id": consent.entry_id,
        "subject": consent.subject_id,
        "recipient": consent.recipient,
        "purpose": consent.purpose,
        "state": consent.state,
        "at": consent.at.isoformat(),
        "wording_hash": consent.wording_hash,
        "channel": consent.channel,
        "expires_at": consent.expires_at.isoformat() if consent.expires_at else None,
    }
    if as_json:
        print_json(fields)
        return
    console.print(json.dumps(fields, indent=2), markup=False, highlight=False)


@share_app.command("consent-disclose")
def consent_disclose(
    subject: Annotated[str, typer.Argument(help="The subject's id.")],
    recipient: Annotated[str, typer.Option(help="The third party's id.")],
    country: Annotated[str, typer.Option(help="The recipient's country.")],
    recipient_key: Annotated[str, typer.Option(help="Its X25519 public key (base64).")],
    purpose: Annotated[str, typer.Option(help="The purpose consented to.")],
    category: Categories,
    out: Out,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Disclose under the subject's consent: a package sealed to the recipient's key."""
    if out.exists():
        raise typer.BadParameter(f"{out} exists; servinfo writes a new file", param_hint="--out")
    with _session(data_dir, token, token_file) as (deployment, principal):
        package = deployment.sharing.with_consent(
            principal,
            subject,
            recipient=recipient,
            recipient_country=country,
            recipient_key=recipient_key,
            purpose=purpose,
            categories=category,
        )
    _write_package(out, package, recipient, as_json)


# -- transparency ------------------------------------------------------------------------


@transparency_app.command("report")
def transparency_report(
    period: Annotated[str, typer.Option(help="YYYYH1, YYYYH2 or YYYYQ1-4.")],
    format: Annotated[str, typer.Option("--format", help="html or json.")] = "json",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Legal requests, disclosures, processors and consent-based disclosures, in aggregate,
    small cells suppressed and gagged requests banded (permission read_audit)."""
    from servinfo.sharing.errors import InvalidSharingInput
    from servinfo.sharing.transparency import Period, build_report, render_html

    if format not in ("html", "json"):
        raise InvalidSharingInput(f"--format is html or json; got {format!r}")
    chosen = Period.parse(period)
    with authorized(data_dir, token, "read_audit", token_file=token_file) as (deployment, _):
        policy = deployment.runtime.refresh().policy
        report = build_report(
            policy,
            chosen,
            deployment.sharing.legal_requests(),
            deployment.ledgers.disclosures(),
        )
    text = (
        render_html(report, policy.organization.name)
        if format == "html"
        else json.dumps(report, indent=2)
    )
    if out is None:
        print(text)
    else:
        out.write_text(text, "utf-8")

"""``servinfo dsr …``: data-subject requests from the command line.

Every command authenticates with a token exactly as the API does and needs the
``handle_requests`` permission: these are the operator's commands. ``dsr open
--verified`` is for a request whose requester the operator identified.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, human, print_json, size, table
from servinfo.cli._session import authorized

# The request types, for the help of ``--type``.
from servinfo.rights.deadlines import REQUEST_TYPES

if TYPE_CHECKING:
    from servinfo.rights.entries import Request

dsr_app = typer.Typer(help="Data-subject requests: open, verify, process, answer.")

RequestId = Annotated[str, typer.Argument(help="The request's id.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; the subject is told.")]


#: What every command here needs of the principal's role.
PERMISSION = "handle_requests"


def register(app: typer.Typer) -> None:
    app.add_typer(dsr_app, name="dsr")


def _print(request: Request, as_json: bool) -> None:
    if as_json:
        print_json(request.to_dict())
        return
    flag = " (flagged)" if request.flagged else ""
    console.print(
        f"{request.request_id}  {request.type}  {request.state}{flag}  subject "
        f"{request.subject_id}  {request.right}  answer by {human(request.answer_by)}",
        markup=False,
    )
    if request.outcome:
        for key, value in request.outcome.items():
            console.print(f"  {key}: {human(value, key)}", markup=False)


def _parameters(
    purpose: str | None,
    recipient: str | None,
    kind: str | None,
    fields: list[str] | None,
    ground: str | None,
    allows: list[str] | None,
) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for key, value in (
        ("purpose", purpose),
        ("recipient", recipient),
        ("kind", kind),
        ("ground", ground),
    ):
        if value is not None:
            parameters[key] = value
    if allows:
        parameters["allows"] = list(allows)
    if fields:
        from servinfo.rights.errors import InvalidRequest

        corrections = {}
        for item in fields:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise InvalidRequest(f"--field expects NAME=VALUE, got {item.split('=')[0]!r}…")
            corrections[name.strip()] = value
        parameters["fields"] = corrections
    return parameters


@dsr_app.command("open")
def open_request(
    request_type: Annotated[
        str, typer.Option("--type", help=f"One of: {', '.join(REQUEST_TYPES)}.")
    ],
    subject: Annotated[str | None, typer.Option("--subject", help="The subject's id.")] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Instead of --subject: their e-mail address.")
    ] = None,
    phone: Annotated[
        str | None, typer.Option("--phone", help="Instead of --subject: their phone number.")
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", help="Instead of --subject: their username.")
    ] = None,
    phone_region: Annotated[
        str | None, typer.Option("--phone-region", help="The country of a national number.")
    ] = None,
    organization: Annotated[
        str | None,
        typer.Option("--organization", help="Of several accounts with that identifier: which."),
    ] = None,
    verified: Annotated[
        bool, typer.Option("--verified", help="You checked the requester's identity.")
    ] = False,
    purpose: Annotated[str | None, typer.Option("--purpose")] = None,
    recipient: Annotated[str | None, typer.Option("--recipient")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Rectification: the kind.")] = None,
    field: Annotated[
        list[str] | None, typer.Option("--field", help="Rectification: NAME=VALUE.")
    ] = None,
    ground: Annotated[str | None, typer.Option("--ground", help="Restriction: Art. 18(1).")] = None,
    allows: Annotated[
        list[str] | None, typer.Option("--allows", help="Restriction: Art. 18(2) purposes.")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Receive a request on the subject's behalf, naming them by id or by one identifier
    they know (--email, --phone, --username; --organization when it has several accounts)."""
    parameters = _parameters(purpose, recipient, kind, field, ground, allows)
    from servinfo.rights.errors import InvalidRequest

    given = [(k, v) for k, v in (("email", email), ("phone", phone), ("username", username)) if v]
    if len(given) + (subject is not None) != 1:
        raise InvalidRequest("name the subject by one of --subject, --email, --phone, --username")
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        if given:
            ((identifier, value),) = given
            opened = deployment.rights.open_by_identifier(
                request_type,
                identifier,
                value,
                principal=me,
                channel="cli",
                organization=organization,
                default_region=phone_region,
                verified=verified,
                parameters=parameters,
            )
        else:
            assert subject is not None  # one of the four was given
            opened = deployment.rights.open(
                request_type,
                subject,
                channel="cli",
                actor=me.name,
                verified=verified,
                parameters=parameters,
            )
    _print(opened, as_json)


@dsr_app.command("send-code")
def send_code(
    request_id: RequestId,
    email: Annotated[
        str | None, typer.Option("--email", help="The address the person gives you.")
    ] = None,
    phone: Annotated[
        str | None, typer.Option("--phone", help="The number the person gives you (E.164).")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Send the subject a one-time verification code, never shown to you.

    To --email/--phone if the person gives one and it is theirs (else nothing is
    sent); without either, to the address on their account record.
    """
    from servinfo.rights.errors import InvalidRequest

    if email and phone:
        raise InvalidRequest("give one address: --email or --phone")
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        to = None
        if email or phone:
            from servinfo.rights.contact import Address, AddressChannel

            kind: AddressChannel = "email" if email else "phone"
            to = Address(kind, deployment.subject_finder.canonical(kind, email or phone or ""))
        notice = deployment.rights.send_code(request_id, to=to)
    if not notice:
        console.print("not sent: that address is not the subject's", markup=False)
        return
    console.print(f"code sent to the subject (recorded as message {notice})", markup=False)


@dsr_app.command("verify")
def verify(
    request_id: RequestId,
    code: Annotated[str, typer.Option("--code", help="The code the subject received.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a request with the code the subject gives you."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        verified = deployment.rights.verify_with_code(request_id, code)
    _print(verified, as_json)


@dsr_app.command("process")
def process(
    request_id: RequestId,
    proceed_flagged: Annotated[
        bool,
        typer.Option("--proceed-flagged", help="You decided a flagged request is well-founded."),
    ] = False,
    background: Annotated[
        bool,
        typer.Option("--background", help="Queue it as a job for a worker instead of waiting."),
    ] = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Do what the request asks and answer it."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        if background:
            from servinfo.jobs.kinds import queue_dsr_processing

            job, _ = queue_dsr_processing(
                deployment, request_id, actor=me.name, proceed_flagged=proceed_flagged
            )
        else:
            done = deployment.rights.process(
                request_id, actor=me.name, proceed_flagged=proceed_flagged
            )
    if background:
        if as_json:
            print_json({"job": job.id, "state": job.state})
        else:
            console.print(f"queued as job {job.id} (servinfo jobs show {job.id})", markup=False)
        return
    _print(done, as_json)


@dsr_app.command("export")
def export(
    request_id: RequestId,
    out: Annotated[Path, typer.Option("--out", help="Where to write the ZIP (created 0600).")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Write the request's export ZIP to a new file, readable by you only."""
    from servinfo.crypto import write_secret_file
    from servinfo.rights.errors import InvalidRequest

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        info, blob = deployment.rights.export_archive(request_id)
    try:
        write_secret_file(out, blob)
    except FileExistsError:
        raise InvalidRequest(f"{out} exists; choose a new file (exports never overwrite)") from None
    err_console.print(
        f"wrote {out} ({size(info.size)}, {info.kind}); expires {human(info.expires_at)}",
        markup=False,
    )


@dsr_app.command("receipt")
def receipt(
    request_id: RequestId,
    out: Annotated[Path, typer.Option("--out", help="Where to write the receipt (new file).")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Write an erasure's receipt (JSON) to a new file, to hand to the person; check it with
    `servinfo audit verify-receipt FILE` or the verify.py of any access export."""
    import json

    from servinfo.rights.errors import InvalidRequest

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        found = deployment.rights.show(request_id)
    made = (found.outcome or {}).get("receipt")
    if found.type != "erasure" or made is None:
        why = (found.outcome or {}).get("receipt_error", "no receipt was made")
        raise InvalidRequest(
            f"request {request_id} has no erasure receipt ({found.type}, {found.state}: {why})"
        )
    try:
        with out.open("x", encoding="utf-8") as file:
            json.dump(made, file, indent=2, ensure_ascii=False)
            file.write("\n")
    except FileExistsError:
        raise InvalidRequest(f"{out} exists; choose a new file") from None
    err_console.print(f"wrote {out}", markup=False)


@dsr_app.command("purge-exports")
def purge_exports(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Destroy the keys of expired exports and delete them (servinfo serve does it hourly)."""
    from servinfo.rights.purge import purge_expired_exports

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        purged = purge_expired_exports(deployment.rights.exports, deployment.audit, actor=me.name)
    if as_json:
        print_json({"purged": purged})
        return
    console.print(f"purged {purged} expired export{'' if purged == 1 else 's'}", markup=False)


@dsr_app.command("show")
def show(
    request_id: RequestId,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """A request's case file."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        found = deployment.rights.show(request_id)
    _print(found, as_json)


@dsr_app.command("list")
def list_requests(
    overdue: Annotated[bool, typer.Option("--overdue", help="Open and past the deadline.")] = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every request, oldest first."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        found = deployment.rights.list_requests(overdue=overdue)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    shown = table(
        "id", "type", "subject", "state", "regime", "answer by", "flagged",
        ids=("id", "subject"),
    )  # fmt: skip
    for r in found:
        shown.add_row(
            r.request_id, r.type, r.subject_id, r.state, r.regime, human(r.answer_by),
            human(r.flagged),
        )  # fmt: skip
    console.print(shown)


@dsr_app.command("extend")
def extend(
    request_id: RequestId,
    reason: ReasonOption,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Extend the deadline once, telling the subject why."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        extended = deployment.rights.extend(request_id, reason, actor=me.name)
    _print(extended, as_json)


@dsr_app.command("refuse")
def refuse(
    request_id: RequestId,
    reason: ReasonOption,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Refuse a request with the reason (and the authority, where the regime requires)."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        refused = deployment.rights.refuse(request_id, reason, actor=me.name)
    _print(refused, as_json)


@dsr_app.command("lift-restriction")
def lift_restriction(
    subject: Annotated[str, typer.Option("--subject")],
    announce: Annotated[
        str | None,
        typer.Option("--announce", help="First tell the subject, with this reason."),
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Tell the subject (--announce REASON), then, once delivered, lift the restriction."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        if announce is not None:
            notice = deployment.rights.announce_restriction_lift(subject, announce, actor=me.name)
            console.print(f"lift notice queued as message {notice}", markup=False)
            return
        lifted = deployment.rights.lift_restriction(subject, actor=me.name)
    console.print(f"restriction {lifted['restriction']} lifted", markup=False)


@dsr_app.command("outbox")
def outbox(
    all_messages: Annotated[bool, typer.Option("--all", help="Sent ones too.")] = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """The messages for the operator's mailer, as JSON."""
    from servinfo.rights.notifier import OutboxNotifier

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        notices = OutboxNotifier(deployment.control).notices(pending_only=not all_messages)
    print_json([n.to_dict() for n in notices])


@dsr_app.command("sent")
def sent(
    notice_id: Annotated[str, typer.Argument(help="The outbox message delivered.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Mark an outbox message delivered (your mailer sent it)."""
    from servinfo.rights.notifier import OutboxNotifier

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        OutboxNotifier(deployment.control).mark_sent(notice_id, now=dt.datetime.now(dt.UTC))
    console.print(f"marked {notice_id} sent", markup=False)


def _when(value: str | None, option: str) -> dt.datetime | None:
    """An ISO 8601 time with its offset (``2026-05-04T10:00:00+00:00``), or None."""
    if value is None:
        return None
    from servinfo.rights.errors import InvalidRequest

    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{option} {value!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InvalidRequest(f"{option} {value!r} has no offset; add one, e.g. +00:00")
    return at


@dsr_app.command("withhold")
def withhold(
    subject: Annotated[str, typer.Option("--subject", help="The subject's id.")],
    ground: Annotated[
        str,
        typer.Option(
            "--ground",
            help="security_investigation, fraud_investigation (their 'protect' entries) or "
            "legal_gag (the entries naming --reference).",
        ),
    ],
    reference: Annotated[
        str | None, typer.Option("--reference", help="legal_gag: the legal request's reference.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Investigations: only entries from this ISO time on."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="When the ground lapses (ISO time).")
    ] = None,
    gagged: Annotated[
        bool, typer.Option("--gagged", help="The ground itself may not be told to the subject.")
    ] = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withhold part of a subject's access history while a ground of law applies."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        held = deployment.rights.withholdings.withhold(
            subject,
            ground,
            actor=me.name,
            reference=reference,
            since=_when(since, "--since"),
            until=_when(until, "--until"),
            gagged=gagged,
        )
    if as_json:
        print_json(held.to_dict())
        return
    console.print(f"withholding {held.withholding_id} placed ({held.ground})", markup=False)


@dsr_app.command("release-withholding")
def release_withholding(
    withholding_id: Annotated[str, typer.Argument(help="The withholding's id.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a withholding: the entries it covered show in the subject's next export."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        released = deployment.rights.withholdings.release(withholding_id, actor=me.name)
    if as_json:
        print_json(released.to_dict())
        return
    console.print(f"withholding {released.withholding_id} released", markup=False)


@dsr_app.command("withholdings")
def withholdings(
    subject: Annotated[str, typer.Option("--subject", help="The subject's id.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """A subject's withholdings, released ones too, as JSON."""
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _me):
        found = deployment.rights.withholdings.for_subject(subject)
    print_json([w.to_dict() for w in found])

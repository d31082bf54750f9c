"""``servinfo retention run`` and ``servinfo subjects close|reopen``.

The sweep runs daily as a job; ``retention run`` runs it now, in the
foreground, with a progress bar (on stderr) and a report (a table, or
``--json``). ``subjects close|reopen`` report an account's closure the way
the identity service does through ingest, and settle its retention at once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, print_json, progress_bar, table
from servinfo.cli._session import authorized

if TYPE_CHECKING:
    from servinfo.deployment import Deployment
    from servinfo.retention.closure import AccountClosure
    from servinfo.retention.sweep import SweepReport

__all__ = ["close_account", "held", "register", "reopen_account", "retention_app", "run"]

#: The permission to run a sweep: the privacy team's, which also places and releases holds.
PERMISSION = "manage_ledgers"

retention_app = typer.Typer(
    help="Retention: delete what has expired (the daily sweep, run now).", no_args_is_help=True
)


@retention_app.command("run")
def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted; change nothing.")
    ] = False,
    region: Annotated[
        str | None, typer.Option("--region", help="Only this region (default: every region).")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete every record past its retention, except what a hold or an open request keeps.

    Needs the manage_ledgers permission. One audit entry per region, with the counts.
    """
    from servinfo.store import UnknownRegion

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _):
        regions = sorted(deployment.regions)
        if region is not None:
            if region not in deployment.regions:
                raise UnknownRegion(region, regions)
            regions = [region]
        now = dt.datetime.now(dt.UTC)
        reports = [_sweep_with_progress(deployment, r, now, dry_run, as_json) for r in regions]
    if as_json:
        print_json([r.to_dict() for r in reports])
        return
    _print_reports(reports)


@retention_app.command("held")
def held(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each legal hold in force and the records past retention it keeps, by kind.

    Needs the manage_ledgers permission. Counts only: no subject, no record.
    """
    from servinfo.retention.sweep import kept_by_holds

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        listed = kept_by_holds(deployment, now=dt.datetime.now(dt.UTC))
        deployment.audit.record(
            "retention_holds_listed",
            actor=me.name,
            outcome="listed",
            details={"holds": len(listed)},
        )
    if as_json:
        print_json(listed)
        return
    shown = table("Hold", "On", "Placed", "Kind", "Records kept", ids=("Hold",))
    for entry in listed:
        kept = entry["kept"] or {"-": 0}
        for kind, count in kept.items():
            shown.add_row(entry["hold"], entry["on"], entry["placed_at"][:10], kind, str(count))
    console.print(shown)


def _sweep_with_progress(
    deployment: Deployment, region: str, now: dt.datetime, dry_run: bool, quiet: bool
) -> SweepReport:
    from servinfo.retention.sweep import run_sweep

    with progress_bar(f"{region}: sweeping", quiet=quiet) as advance:
        return run_sweep(deployment, region, now=now, dry_run=dry_run, progress=advance)


def _print_reports(reports: list[SweepReport]) -> None:
    dry = any(r.dry_run for r in reports)
    shown = table(
        "Region",
        "Kind",
        "Would delete" if dry else "Deleted",
        "Kept (hold)",
        "Kept (request)",
        title="Retention sweep (dry run: nothing changed)" if dry else "Retention sweep",
    )
    for report in reports:
        kinds = sorted(
            set(report.deleted)
            | {k for c in report.kept_by_hold.values() for k in c}
            | {k for c in report.kept_by_request.values() for k in c}
        )
        for kind in kinds:
            shown.add_row(
                report.region,
                kind,
                str(report.deleted.get(kind, 0)),
                str(sum(c.get(kind, 0) for c in report.kept_by_hold.values())),
                str(sum(c.get(kind, 0) for c in report.kept_by_request.values())),
            )
    console.print(shown)
    for report in reports:
        line = (
            f"{report.region}: {report.deleted_total} records "
            f"{'would be ' if report.dry_run else ''}deleted, "
            f"{report.keys_destroyed} data keys destroyed, {report.kept_total} kept, "
            f"{report.closures_settled} account closures settled"
        )
        if report.kept_by_hold:
            line += f"; holds: {', '.join(sorted(report.kept_by_hold))}"
        if report.kept_by_request:
            line += f"; requests: {', '.join(sorted(report.kept_by_request))}"
        if not report.storage_purged:
            line += "; storage not purged yet (a reader held the WAL): run again"
        console.print(line, markup=False, highlight=False)


# -- servinfo subjects close | reopen (registered on the subjects group) ------------------


def _closure(deployment: Deployment) -> AccountClosure:
    from servinfo.retention.closure import AccountClosure

    return AccountClosure(
        directory=deployment.directory,
        regions=deployment.regions,
        policy=lambda: deployment.runtime.refresh().policy,
        audit=deployment.audit,
    )


def close_account(
    subject_id: Annotated[str, typer.Argument(help="The subject whose account closed.")],
    at: Annotated[
        dt.datetime | None,
        typer.Option(
            "--at",
            help="When it closed (ISO 8601, UTC if no zone; default: now).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record an account closed: retention that counts from closure starts. Audited.

    Needs register_subjects or manage_ledgers.
    """
    closed_at = dt.datetime.now(dt.UTC) if at is None else _utc(at)
    with authorized(data_dir, token, token_file=token_file) as (deployment, me):
        outcome = _closure(deployment).close(me, subject_id, closed_at)
    _print_outcome(outcome.to_dict(), as_json)


def reopen_account(
    subject_id: Annotated[str, typer.Argument(help="The subject whose account is open again.")],
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record an account open again: retention that counts from closure is provisional again."""
    with authorized(data_dir, token, token_file=token_file) as (deployment, me):
        outcome = _closure(deployment).reopen(me, subject_id)
    _print_outcome(outcome.to_dict(), as_json)


def _utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def _print_outcome(outcome: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(outcome)
        return
    console.print(
        f"{outcome['subject']}: {outcome['status']}; {outcome['records']} records' "
        "retention recomputed",
        markup=False,
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")

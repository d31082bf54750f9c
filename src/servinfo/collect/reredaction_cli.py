"""``servinfo redaction rerun``: stored free text caught up with the policy and detectors.

In the foreground with a progress bar (on stderr) and a report (a table, or
``--json``); with ``--background``, one job per region
(:data:`servinfo.jobs.kinds.REDACTION_RERUN`) that a worker runs, deduplicated
by region and version so that asking twice queues once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, print_json, progress_bar, table
from servinfo.cli._session import authorized

if TYPE_CHECKING:
    from servinfo.collect.reredaction import RerunReport
    from servinfo.deployment import Deployment

__all__ = ["redaction_app", "register", "rerun"]

#: Who brings stored text up to the policy: who may activate a policy.
PERMISSION = "reload_policy"

redaction_app = typer.Typer(
    help="Redaction of stored free text: run it again after the policy or the detectors change.",
    no_args_is_help=True,
)


@redaction_app.command("rerun")
def rerun(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change; change nothing.")
    ] = False,
    region: Annotated[
        str | None, typer.Option("--region", help="Only this region (default: every region).")
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", help="Queue one job per region for the worker.")
    ] = False,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Redact stored free text again under the active policy and this build's detectors.

    Only records redacted by another policy or other detectors are rewritten; a second
    run changes nothing. Needs the reload_policy permission. One audit entry per region.
    """
    from servinfo.store import UnknownRegion

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, me):
        regions = sorted(deployment.regions)
        if region is not None:
            if region not in deployment.regions:
                raise UnknownRegion(region, regions)
            regions = [region]
        if background:
            if dry_run:
                raise typer.BadParameter(
                    "--dry-run runs in the foreground only", param_hint="--background"
                )
            _queue(deployment, regions, as_json)
            return
        reports = [_with_progress(deployment, r, me.name, dry_run, as_json) for r in regions]
    if as_json:
        print_json([r.to_dict() for r in reports])
        return
    _print(reports)


def _queue(deployment: Deployment, regions: list[str], as_json: bool) -> None:
    from servinfo.collect.redaction.by_policy import PolicyRedaction
    from servinfo.collect.reredaction import redaction_version
    from servinfo.jobs.kinds import enqueue_redaction_rerun

    version = redaction_version(PolicyRedaction(deployment.runtime.refresh(force=True).policy))
    queued = []
    for region in regions:
        job, new = enqueue_redaction_rerun(deployment.jobs.queue, region, version)
        queued.append({"region": region, "job": job.id, "new": new})
    if as_json:
        print_json(queued)
        return
    for entry in queued:
        state = "queued as" if entry["new"] else "already queued as"
        console.print(f"{entry['region']}: {state} job {entry['job']}", markup=False)


def _with_progress(
    deployment: Deployment, region: str, actor: str, dry_run: bool, quiet: bool
) -> RerunReport:
    from servinfo.collect.reredaction import rerun_redaction

    with progress_bar(f"{region}: re-redacting", quiet=quiet) as advance:
        return rerun_redaction(deployment, region, actor=actor, dry_run=dry_run, progress=advance)


def _print(reports: list[RerunReport]) -> None:
    dry = any(r.dry_run for r in reports)
    shown = table(
        "Region",
        "Read",
        "Current",
        "Would change" if dry else "Changed",
        "Restamped",
        "Left (changed meanwhile)",
        "Values replaced",
        title="Re-redaction (dry run: nothing changed)" if dry else "Re-redaction",
    )
    for r in reports:
        found = ", ".join(f"{t} {n}" for t, n in r.found.items()) or "-"
        shown.add_row(
            r.region,
            str(r.examined),
            str(r.current),
            str(r.changed),
            str(r.restamped),
            str(r.raced),
            found,
        )
    console.print(shown)


def register(app: typer.Typer) -> None:
    app.add_typer(redaction_app, name="redaction")

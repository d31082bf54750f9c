"""``servinfo worker`` and ``servinfo jobs list|show|retry``.

The worker is an operator's process like ``servinfo serve``: it opens the
deployment with the master key and needs no token. ``jobs`` commands are a
principal's, token-checked like every other (``read_jobs``, ``manage_jobs``).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, human, log_to_stderr, print_json, table
from servinfo.cli._session import authorized

if TYPE_CHECKING:
    from servinfo.jobs.queue import Job

__all__ = ["jobs_app", "register", "worker"]

jobs_app = typer.Typer(
    help="Background jobs: what is queued, running, failed and done.", no_args_is_help=True
)

JobId = Annotated[str, typer.Argument(help="The job's id (see 'servinfo jobs list').")]


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")


def worker(
    data_dir: DataDirOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run the due schedules and jobs, then exit.")
    ] = False,
    poll: Annotated[
        float,
        typer.Option("--poll", min=0.05, max=60.0, help="Seconds to wait when no job is due."),
    ] = 1.0,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            min=1.0,
            max=3600.0,
            help="Seconds a job stays this worker's without a heartbeat (beats every third).",
        ),
    ] = 30.0,
    parent_pid: Annotated[
        int | None,
        typer.Option(
            "--exit-with-parent", hidden=True, help="Stop when this process (the parent) ends."
        ),
    ] = None,
) -> None:
    """Run background jobs: the schedules (export purge, retention sweeps) and queued work.

    Run as many as you like, on one machine or several sharing a PostgreSQL
    control database: a job runs on one worker at a time. SIGTERM lets the
    running job finish; a killed worker's job is taken over when its lease runs out.
    """
    import signal

    from servinfo.deployment import open_deployment
    from servinfo.jobs.kinds import deployment_registry
    from servinfo.jobs.queue import JobQueue
    from servinfo.jobs.runner import Worker

    log_to_stderr()
    with open_deployment(data_dir, dict(os.environ)) as deployment:
        queue = JobQueue(deployment.control, lease=dt.timedelta(seconds=lease))
        runner = Worker(queue, deployment_registry(deployment), deployment=deployment, poll=poll)

        def stop(_signal: int, _frame: object) -> None:
            runner.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if parent_pid is not None:
            _stop_with_parent(runner.stopping, parent_pid)
        report = runner.run_until_idle() if once else runner.run_forever()
    if once:
        console.print(
            f"ran {report.ran} jobs: {report.done} done, {report.retried} to retry, "
            f"{report.failed} failed, {report.lost} lost to another worker",
            markup=False,
        )


def _stop_with_parent(stopping: threading.Event, parent: int) -> None:
    """Set ``stopping`` once the parent (``servinfo serve``) is gone, even killed.

    The parent names itself: a parent killed while this worker was still
    starting has already left it to another, so "the parent I saw first" would
    never change.
    """
    if os.getppid() != parent:
        stopping.set()
        return

    def watch() -> None:
        while not stopping.wait(0.5):
            if os.getppid() != parent:
                stopping.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _row(job: Job) -> dict[str, Any]:
    return job.to_dict()


_COLUMNS = ("id", "kind", "state", "attempts", "updated_at", "last_error_class")


@jobs_app.command("list")
def list_jobs(
    state: Annotated[
        str | None,
        typer.Option("--state", help="Only jobs in this state: queued, running, failed, done."),
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only jobs of this kind.")] = None,
    before: Annotated[
        str | None, typer.Option("--before", help="Start before this job id (to page on).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Jobs, newest first. Needs the read_jobs permission."""
    with authorized(data_dir, token, "read_jobs", token_file=token_file) as (deployment, me):
        jobs = deployment.jobs.list(me, state=state, kind=kind, before=before, limit=limit)
    if as_json:
        print_json([_row(job) for job in jobs])
        return
    output = table(*_COLUMNS, ids=("id", "state"), title="Jobs")
    for job in jobs:
        row = _row(job)
        output.add_row(*(human(row[c], c) for c in _COLUMNS))
    console.print(output)
    if len(jobs) == limit:
        err_console.print(f"(first {limit}; the next page: --before {jobs[-1].id})", markup=False)


@jobs_app.command("show")
def show(
    job_id: JobId,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """One job: its parameters, attempts, lease, progress, last error and result."""
    with authorized(data_dir, token, "read_jobs", token_file=token_file) as (deployment, me):
        job = deployment.jobs.show(me, job_id)
    _print(job, as_json)


@jobs_app.command("retry")
def retry(
    job_id: JobId,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue a failed job again, with a fresh count of attempts. Needs manage_jobs; audited."""
    with authorized(data_dir, token, "manage_jobs", token_file=token_file) as (deployment, me):
        job = deployment.jobs.retry(me, job_id)
    _print(job, as_json)


def _print(job: Job, as_json: bool) -> None:
    row = _row(job)
    if as_json:
        print_json(row)
        return
    output = table("field", "value", title=f"Job {job.id}")
    for name, value in row.items():
        output.add_row(name, human(value, name))
    console.print(output)

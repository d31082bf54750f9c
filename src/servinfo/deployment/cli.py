"""``servinfo init`` and ``servinfo keys status|rotate``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, print_json
from servinfo.cli._session import authorized

if TYPE_CHECKING:
    from servinfo.deployment import Deployment
    from servinfo.deployment.demo import DemoSummary
    from servinfo.store.rotation import RewrapReport

keys_app = typer.Typer(help="The keyring: status and rotation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(keys_app, name="keys")
    app.command("demo")(demo)


def demo(
    data_dir: DataDirOption = None,
    customers: Annotated[int, typer.Option("--customers", min=1, max=10_000)] = 10,
    days: Annotated[int, typer.Option("--days", min=1, max=365)] = 3,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load simulated Service Information, sent as each cloud service would send it.

    Idempotent: run again with the same seed, it sends nothing. Writes the demo
    principals' tokens (a reporting service per service, a reader per staff role)
    to demo-tokens/ in the data directory, each file mode 0600.
    """
    from servinfo.deployment.demo import load_demo

    with authorized(
        data_dir, token, "manage_principals", token_file=token_file
    ) as (deployment, me), Progress(
        TextColumn("loading demo data"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, disable=as_json,
    ) as progress:  # fmt: skip
        task = progress.add_task("demo", total=None)
        summary = load_demo(
            deployment,
            customers=customers,
            days=days,
            seed=seed,
            actor=me.name,
            progress=lambda n: progress.advance(task, n),
        )
    if as_json:
        print_json(
            {
                "accepted": summary.accepted,
                "rejected": summary.rejected,
                "already_loaded": summary.already_loaded,
                "subjects": summary.subjects,
                "token_files": {name: str(path) for name, path in summary.token_files.items()},
                "samples": [{"subject": s, "home_region": r} for s, r in summary.samples],
                "jobs": [
                    {"id": j.id, "kind": j.kind, "state": j.state, **j.params} for j in summary.jobs
                ],
            }
        )
    else:
        _show_demo(summary, seed)
    if summary.rejected:
        raise typer.Exit(2)


def _show_demo(summary: DemoSummary, seed: int) -> None:
    if summary.already_loaded:
        console.print(
            f"demo data for seed {seed} is already loaded ({summary.subjects} subjects): "
            "nothing sent",
            markup=False,
        )
    else:
        console.print(
            f"demo data: {summary.accepted} objects accepted, {summary.rejected} rejected",
            markup=False,
        )
    for line in summary.first_rejections:
        err_console.print(f"  rejected: {line}", markup=False)
    if summary.token_files:
        console.print("tokens of the demo principals (files of mode 0600):", markup=False)
        for name, path in sorted(summary.token_files.items()):
            console.print(f"  {name:<26} {_shown(path)}", markup=False)
    if summary.jobs:
        console.print(
            "jobs for the worker that 'servinfo serve' starts (see 'servinfo jobs list'):",
            markup=False,
        )
        for job in summary.jobs:
            what = f"{job.kind} {job.params.get('region', '')}".strip()
            console.print(f"  {what:<26} {job.state:<8} {job.id}", markup=False)
    reader = summary.token_files.get("demo-support_engineer")
    if reader is None or not summary.samples:
        return
    console.print("try, as a support engineer:", markup=False)
    console.print(f"  export SERVINFO_TOKEN_FILE={_shown(reader)}", markup=False)
    console.print("  servinfo subjects list", markup=False)
    for subject, region in summary.samples:
        console.print(
            f"  servinfo read --subject {subject} --purpose provide   # home region {region}",
            markup=False,
        )


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def init(
    data_dir: DataDirOption = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy YAML (default: the shipped policy).")
    ] = None,
    database_url_template: Annotated[
        str | None,
        typer.Option(
            "--database-url-template",
            help="e.g. 'postgresql+psycopg://postgres@127.0.0.1/servinfo_{name}'; "
            "{name} is 'control' or a region id. Default: SQLite files in the data directory.",
        ),
    ] = None,
    admin_token_file: Annotated[
        Path | None,
        typer.Option(
            "--admin-token-file",
            help="Write the admin token to this new file (mode 0600) instead of printing it.",
        ),
    ] = None,
    key_dir: Annotated[
        Path | None,
        typer.Option(
            "--key-dir",
            help="Write the master key to DIR/master.key (mode 0600), outside the data "
            "directory, and record its path in servinfo.toml.",
        ),
    ] = None,
    local_demo: Annotated[
        bool,
        typer.Option(
            "--local-demo",
            help="Mark this deployment as the local demo (make run): its master key beside "
            "the data is not warned about.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a deployment: settings, databases, keyring, TLS certificate, admin principal."""
    from servinfo.config import load_settings, resolve_data_dir
    from servinfo.crypto import write_secret_file
    from servinfo.deployment.create import create_deployment
    from servinfo.deployment.key_location import master_key_warning

    env = dict(os.environ)
    target = resolve_data_dir(data_dir, env)
    result = create_deployment(
        target,
        env,
        policy_file=policy,
        database_url_template=database_url_template,
        key_dir=key_dir,
        local_demo=local_demo,
    )
    warning = master_key_warning(load_settings(target, env), env)
    if warning is not None:
        err_console.print(warning, markup=False, highlight=False, soft_wrap=True)
    token_shown = admin_token_file is None
    if admin_token_file is not None:
        write_secret_file(admin_token_file, (result.admin_token + "\n").encode())
    if as_json:
        summary = {
            "data_dir": str(result.data_dir),
            "policy_version": result.policy_version,
            "regions": list(result.regions),
        }
        print_json({**summary, "admin_token": result.admin_token} if token_shown else summary)
        return
    console.print(f"Initialized a servinfo deployment in {result.data_dir}", markup=False)
    console.print(f"  policy version {result.policy_version}; regions {', '.join(result.regions)}")
    if result.master_key_file is not None:
        console.print(
            f"  master key in {result.master_key_file} (mode 0600): back it up apart from the data",
            markup=False,
        )
    if token_shown:
        console.print("Admin token (shown once, store it in a secret manager):")
        print(result.admin_token)
    else:
        console.print(f"  admin token written to {admin_token_file} (mode 0600)", markup=False)


@keys_app.command("status")
def status(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The current version of every key purpose, and how many data keys each KEK wraps."""
    from servinfo.store import kek_usage

    with authorized(data_dir, token, "rotate_keys", token_file=token_file) as (deployment, _me):
        rows = deployment.keyring.status()
        usage: dict[str, int] = {}
        for engine in deployment.regions.values():
            usage.update(kek_usage(engine))

    def wrapped_by(purpose: str) -> dict[str, int]:
        return {kek: n for kek, n in sorted(usage.items()) if kek.startswith(f"{purpose}:")}

    if as_json:
        print_json(
            [
                {
                    "purpose": r.purpose,
                    "version": r.version,
                    "key_id": r.key_id,
                    "created_at": r.created_at.isoformat(),
                    "data_keys_by_kek": wrapped_by(r.purpose),
                }
                for r in rows
            ]
        )
        return
    table = Table("purpose", "current", "created", "data keys wrapped", title="Keyring")
    for row in rows:
        wrapped = ", ".join(f"{kek}: {n}" for kek, n in wrapped_by(row.purpose).items())
        table.add_row(row.purpose, row.key_id, f"{row.created_at:%Y-%m-%d %H:%M}", wrapped)
    console.print(table)


def _rotate_audit_key(
    data_dir: Path | None, token: str | None, token_file: Path | None, as_json: bool
) -> None:
    """Close the old key's window with a checkpoint, rotate, and log the rotation under the new
    key: the first checkpoint the new key signs covers the entry that announces it."""
    from servinfo.crypto import AUDIT_SIGNING

    with authorized(data_dir, token, "rotate_keys", token_file=token_file) as (deployment, me):
        log = deployment.audit
        log.checkpoint()
        old = deployment.keyring.current(AUDIT_SIGNING).key_id
        new = deployment.keyring.rotate(AUDIT_SIGNING)
        vkey = log.vkeys()[-1]
        log.record(
            "key_rotation",
            actor=me.name,
            outcome="rotated",
            details={"key_id": new.key_id, "previous": old, "vkey": vkey},
        )
        log.checkpoint()
    if as_json:
        print_json({"key_id": new.key_id, "previous": old, "vkey": vkey})
        return
    console.print(f"audit log: now signed by {new.key_id} (was {old})", markup=False)
    console.print(f"  new key: {vkey}", markup=False)
    console.print(
        "  add it as a 'log' line to the trust policies of your witnesses and auditors "
        "(servinfo audit policy prints one); running servers sign with it from their next "
        "checkpoint",
        markup=False,
    )


@keys_app.command("rotate")
def rotate(
    region: Annotated[
        str | None, typer.Option("--region", help="Rotate this region's key-encryption key.")
    ] = None,
    audit: Annotated[
        bool,
        typer.Option(
            "--audit",
            help="Rotate the audit log's signing key instead: checkpoints are signed with the "
            "new key from now on; the old one keeps verifying what it signed.",
        ),
    ] = False,
    data_dir: DataDirOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000)] = 1000,
    background: Annotated[
        bool,
        typer.Option("--background", help="Re-wrap in a job run by a worker instead of here."),
    ] = False,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """New KEK version for a region (data keys are re-wrapped in batches, records untouched),
    or with --audit a new signing key for the audit log."""
    from servinfo.crypto import kek_purpose
    from servinfo.policy import UnknownPolicyElement

    if audit == (region is not None):
        raise typer.BadParameter("give --region REGION or --audit", param_hint="--region")
    if audit:
        _rotate_audit_key(data_dir, token, token_file, as_json)
        return
    assert region is not None
    with authorized(data_dir, token, "rotate_keys", token_file=token_file) as (deployment, me):
        if region not in deployment.regions:
            raise UnknownPolicyElement("region", region, sorted(deployment.regions))
        new_kek = deployment.keyring.rotate(kek_purpose(region))
        if background:
            from servinfo.jobs.kinds import enqueue_rewrap

            job, _ = enqueue_rewrap(
                deployment.jobs.queue, region, new_kek.key_id, batch_size=batch_size
            )
            deployment.audit.record(
                "key_rotation",
                actor=me.name,
                outcome="rotated",
                details={"key_id": new_kek.key_id, "rewrap_job": job.id},
            )
        else:
            report = _rewrap_with_progress(deployment, region, batch_size, as_json)
            deployment.audit.record(
                "key_rotation",
                actor=me.name,
                outcome="rotated",
                details={"key_id": new_kek.key_id, "rewrapped": report.rewrapped},
            )
    if background:
        if as_json:
            print_json({"region": region, "key_id": new_kek.key_id, "job": job.id})
        else:
            console.print(
                f"{region}: now {new_kek.key_id}; data keys are re-wrapped by job {job.id}",
                markup=False,
            )
        return
    if as_json:
        print_json({"region": region, "key_id": new_kek.key_id, "rewrapped": report.rewrapped})
        return
    console.print(
        f"{region}: now {new_kek.key_id}; re-wrapped {report.rewrapped} data keys", markup=False
    )


def _rewrap_with_progress(
    deployment: Deployment, region: str, batch_size: int, quiet: bool
) -> RewrapReport:
    """The re-wrap in the foreground, under a progress bar (on stderr)."""
    from servinfo.store import rewrap_data_keys

    with Progress(
        TextColumn("re-wrapping data keys"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
    ) as progress:
        task = progress.add_task("rewrap", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return rewrap_data_keys(
            deployment.regions[region],
            region,
            deployment.keyring,
            batch_size=batch_size,
            progress=advance,
        )

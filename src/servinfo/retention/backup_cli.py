"""``servinfo backup`` and ``servinfo restore`` (docs/backup.md).

``backup --out FILE`` takes a sealed backup; ``backup list`` shows the
catalogue; ``backup expire`` destroys the keys of expired backups now (the
daily ``backup_expiry`` job does it otherwise); ``backup replay`` and ``backup
accept-restore`` settle a restore that could not find its shred ledger.
Backups need the ``rotate_keys`` permission: a backup is every record, and its
key is wrapped by the master key, whose custody that permission stands for.
``restore`` needs no token — there is no deployment yet — but the master key.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, print_json, table
from servinfo.cli._session import authorized

__all__ = ["backup_app", "restore"]

PERMISSION = "rotate_keys"

backup_app = typer.Typer(
    help="Sealed backups that expire, and what a restore needs.",
    invoke_without_command=True,
)


@backup_app.callback()
def backup(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="The backup file to write (never overwritten).")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take a backup: ``servinfo backup --out FILE`` (or a sub-command below)."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise typer.BadParameter("give --out FILE (or a sub-command)", param_hint="--out")
    from servinfo.crypto import MASTER_KEY_ENV, load_master_key
    from servinfo.retention.backup import take_backup

    env = dict(os.environ)
    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _):
        settings = deployment.settings
        key_file = "" if env.get(MASTER_KEY_ENV) else str(settings.master_key_file.resolve())
        result = take_backup(
            deployment,
            out=out,
            master_key=load_master_key(env, settings.master_key_file),
            master_key_file=key_file,
            catalogue=deployment.backup_catalogue,
            ledger=deployment.shred_ledger,
            now=dt.datetime.now(dt.UTC),
        )
    summary = {
        "backup_id": result.backup_id,
        "file": str(result.path),
        "expires_at": result.expires_at.isoformat(),
        "size_bytes": result.size_bytes,
        "ledger_seq": result.ledger_seq,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"backup {result.backup_id} written to {result.path} ({result.size_bytes} bytes); "
        f"readable until {result.expires_at:%Y-%m-%d %H:%M} UTC"
    )


@backup_app.command("list")
def list_backups(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The backup catalogue: each backup, when it expires, whether its key is destroyed."""
    from servinfo.retention.backup import catalogue_rows

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _):
        rows = catalogue_rows(deployment.backup_catalogue, dt.datetime.now(dt.UTC))
    if as_json:
        print_json(rows)
        return
    shown = table("backup", "taken", "expires", "state", "size", "file")
    for row in rows:
        shown.add_row(
            str(row["backup_id"]),
            str(row["created_at"])[:19],
            str(row["expires_at"])[:19],
            str(row["state"]),
            str(row["size_bytes"] or ""),
            str(row["file"]),
        )
    console.print(shown)


@backup_app.command("expire")
def expire(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Destroy the key of every backup past its expiry now (the daily job does it too)."""
    from servinfo.retention.backup import expire_backups

    with authorized(data_dir, token, PERMISSION, token_file=token_file) as (deployment, _):
        destroyed = expire_backups(
            deployment.backup_catalogue,
            deployment.shred_ledger,
            deployment_id=deployment.deployment_id,
            now=dt.datetime.now(dt.UTC),
        )
    if as_json:
        print_json({"destroyed": destroyed})
        return
    console.print(f"{len(destroyed)} expired backup key(s) destroyed")


@backup_app.command("replay")
def replay(
    data_dir: DataDirOption = None,
    shred_ledger: Annotated[
        str | None,
        typer.Option("--shred-ledger", help="The shred ledger (path or URL), if not the setting."),
    ] = None,
) -> None:
    """Replay the shred ledger into a restore that could not find it; then it may serve."""
    from servinfo.config import resolve_data_dir
    from servinfo.retention.restore import replay_ledger

    env = dict(os.environ)
    target = resolve_data_dir(data_dir, env)
    report = replay_ledger(target, env, now=dt.datetime.now(dt.UTC), ledger_url=shred_ledger)
    console.print(f"shred ledger replayed into {target}: {_counts(report.replayed)}")


@backup_app.command("accept-restore")
def accept_restore(
    reason: Annotated[
        str, typer.Option("--reason", help="Why the restore may serve without the ledger.")
    ],
    data_dir: DataDirOption = None,
) -> None:
    """Let a restore serve WITHOUT its shred ledger replayed (erased people may be back).
    Audited as such, with the reason."""
    from servinfo.config import resolve_data_dir
    from servinfo.retention.restore import accept_without_ledger

    env = dict(os.environ)
    target = resolve_data_dir(data_dir, env)
    backup_id = accept_without_ledger(target, env, reason=reason, now=dt.datetime.now(dt.UTC))
    err_console.print(
        f"warning: the restore of backup {backup_id} in {target} serves WITHOUT its shred "
        "ledger replayed; this was audited"
    )


def _counts(counts: object) -> str:
    if not isinstance(counts, dict):
        return ""
    return ", ".join(f"{key} {value}" for key, value in counts.items())


def restore(
    backup_file: Annotated[Path, typer.Argument(help="The backup file.", show_default=False)],
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="A new or empty directory to restore into.")
    ],
    catalogue: Annotated[
        str | None,
        typer.Option(
            "--catalogue",
            help="The backup catalogue (path or URL), if not the header's.",
        ),
    ] = None,
    shred_ledger: Annotated[
        str | None,
        typer.Option("--shred-ledger", help="The shred ledger (path or URL), if not the header's."),
    ] = None,
    master_key_file: Annotated[
        Path | None,
        typer.Option("--master-key-file", help="The master key file, if not the header's."),
    ] = None,
    database_url_template: Annotated[
        str | None,
        typer.Option(
            "--database-url-template",
            help="For a PostgreSQL backup: new databases, e.g. postgresql://h/restored_{name}.",
        ),
    ] = None,
    without_shred_ledger: Annotated[
        bool,
        typer.Option(
            "--without-shred-ledger",
            help="Serve even though the shred ledger is missing (needs --reason; audited).",
        ),
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (with the above).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into a new directory and replay the erasures made since.

    Every erasure and key destruction made after the backup was taken is replayed from the
    shred ledger (docs/backup.md)."""
    from servinfo.retention.backup import BackupError
    from servinfo.retention.restore import restore_backup

    if without_shred_ledger and not (reason or "").strip():
        raise BackupError("--without-shred-ledger needs --reason TEXT")
    report = restore_backup(
        backup_file,
        data_dir,
        dict(os.environ),
        now=dt.datetime.now(dt.UTC),
        catalogue_url=catalogue,
        ledger_url=shred_ledger,
        master_key_file=master_key_file,
        database_url_template=database_url_template,
        without_ledger_reason=reason if without_shred_ledger else None,
    )
    if as_json:
        print_json(
            {
                "backup_id": report.backup_id,
                "data_dir": str(report.data_dir),
                "ledger_replayed": report.ledger_replayed,
                "origin": report.origin,
                "previous_origin": report.previous_origin,
                "replayed": dict(report.replayed),
            }
        )
    if not report.ledger_replayed and not without_shred_ledger:
        raise BackupError(
            f"restored backup {report.backup_id} into {report.data_dir}, but the shred ledger "
            f"{report.shred_ledger} was not found: the deployment refuses to serve until "
            "'servinfo backup replay' finds it, or 'servinfo backup accept-restore --reason' "
            "overrides (audited)"
        )
    if not as_json:
        console.print(
            f"backup {report.backup_id} restored into {report.data_dir}; new audit origin "
            f"{report.origin}"
            + (f"; replayed: {_counts(dict(report.replayed))}" if report.replayed else "")
        )


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
    app.command("restore")(restore)

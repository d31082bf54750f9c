"""The ``servinfo`` command: one Typer application, one sub-command group per domain.

Domain packages own their commands (``servinfo/<domain>/cli.py``); this module
only names them and turns errors into one line and a non-zero exit.

Start-up stays quick the way pip's does (``commands_dict`` and
``create_command`` in ``pip/_internal/commands/__init__.py``): :data:`COMMANDS`
maps each top-level name to the module and attribute that define it, with its
one-line help, and :class:`LazyGroup` imports a domain's module only when one
of its commands runs or its own help is asked for. ``servinfo --help`` is
printed from the table alone, without FastAPI, SQLAlchemy or any domain.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from difflib import get_close_matches
from typing import Any, NamedTuple

import typer
import typer.core

# Typer 0.29 carries its own click (``typer._click``); its Command and Context are these.
from typer import _click as click

from servinfo.cli._output import err_console
from servinfo.errors import ServinfoError

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_INTERNAL", "CommandEntry", "LazyGroup", "app", "main"]


class CommandEntry(NamedTuple):
    """Where a top-level command or group is defined, and its help line."""

    module: str
    #: A ``typer.Typer`` (a group) or a command function in ``module``.
    attribute: str
    help: str


#: Every top-level command and group, in the order ``servinfo --help`` lists them.
COMMANDS: dict[str, CommandEntry] = {
    "init": CommandEntry(
        "servinfo.deployment.cli",
        "init",
        "Create a deployment: settings, databases, keyring, TLS certificate, admin principal.",
    ),
    "upgrade": CommandEntry(
        "servinfo.deployment.upgrade_cli",
        "upgrade",
        "Migrate an existing deployment's databases to this version and stamp them.",
    ),
    "serve": CommandEntry(
        "servinfo.api.cli", "serve", "Serve the API over HTTPS with the deployment's certificate."
    ),
    "worker": CommandEntry(
        "servinfo.jobs.cli",
        "worker",
        "Run background jobs: the schedules (export purge, retention sweeps) and queued work.",
    ),
    "jobs": CommandEntry(
        "servinfo.jobs.cli",
        "jobs_app",
        "Background jobs: what is queued, running, failed and done.",
    ),
    "demo": CommandEntry(
        "servinfo.deployment.cli",
        "demo",
        "Load simulated Service Information, sent as each cloud service would send it.",
    ),
    "policy": CommandEntry(
        "servinfo.policy.cli", "policy_app", "Check, show, export and activate the policy."
    ),
    "notice": CommandEntry(
        "servinfo.policy.cli", "notice_app", "The privacy notice, generated from the policy."
    ),
    "ropa": CommandEntry(
        "servinfo.policy.cli",
        "ropa",
        "The records of processing activities (GDPR Art. 30(1)), from the policy.",
    ),
    "keys": CommandEntry(
        "servinfo.deployment.cli", "keys_app", "The keyring: status and rotation."
    ),
    "principals": CommandEntry("servinfo.access.cli", "principals_app", "Who may call servinfo."),
    "subjects": CommandEntry(
        "servinfo.access.subjects_cli",
        "subjects_app",
        "The subjects servinfo holds data about: ids and home regions.",
    ),
    "read": CommandEntry(
        "servinfo.access.cli",
        "read",
        "Read a subject's records for a purpose: decided, narrowed and audited.",
    ),
    "decide": CommandEntry(
        "servinfo.access.cli", "decide", "Explain the decision on a read without reading data."
    ),
    "ingest": CommandEntry(
        "servinfo.collect.cli",
        "ingest",
        "Load Service Information from an NDJSON file (as 'servinfo simulate' writes it).",
    ),
    "simulate": CommandEntry(
        "servinfo.collect.simulator.cli",
        "simulate_command",
        "Simulate the three services' Service Information: identity, platform, support.",
    ),
    "objection": CommandEntry(
        "servinfo.ledgers.cli", "objection_app", "Objections to processing (GDPR Art. 21)."
    ),
    "restriction": CommandEntry(
        "servinfo.ledgers.cli", "restriction_app", "Restrictions of processing (GDPR Art. 18)."
    ),
    "consent": CommandEntry("servinfo.ledgers.cli", "consent_app", "Consents given and withdrawn."),
    "hold": CommandEntry(
        "servinfo.ledgers.cli", "hold_app", "Legal holds on subjects and organizations."
    ),
    "redaction": CommandEntry(
        "servinfo.collect.reredaction_cli",
        "redaction_app",
        "Redaction of stored free text: run it again after the policy or the detectors change.",
    ),
    "retention": CommandEntry(
        "servinfo.retention.cli",
        "retention_app",
        "Retention: delete what has expired (the daily sweep, run now).",
    ),
    "backup": CommandEntry(
        "servinfo.retention.backup_cli",
        "backup_app",
        "Sealed backups that expire, and what a restore needs.",
    ),
    "restore": CommandEntry(
        "servinfo.retention.backup_cli",
        "restore",
        "Restore a backup into a new directory and replay the erasures made since.",
    ),
    "disclosure": CommandEntry(
        "servinfo.ledgers.cli", "disclosure_app", "The register of disclosures."
    ),
    "processors": CommandEntry(
        "servinfo.sharing.cli", "processors_app", "Processors under contract."
    ),
    "legal": CommandEntry(
        "servinfo.sharing.cli", "legal_app", "Legal requests: intake, review, disclosure."
    ),
    "share": CommandEntry(
        "servinfo.sharing.cli", "share_app", "Consents to disclosure, and disclosures under them."
    ),
    "transparency": CommandEntry(
        "servinfo.sharing.cli", "transparency_app", "The transparency report."
    ),
    "dsr": CommandEntry(
        "servinfo.rights.cli", "dsr_app", "Data-subject requests: open, verify, process, answer."
    ),
    "drp": CommandEntry(
        "servinfo.rights.drp.cli",
        "drp_app",
        "Data Rights Protocol: authorized agents and status callbacks.",
    ),
    "audit": CommandEntry(
        "servinfo.audit.cli",
        "app",
        "The audit log: verify it, prove entries, check proofs offline.",
    ),
    "witness": CommandEntry(
        "servinfo.witness.cli",
        "witness_app",
        "A witness: cosigns the checkpoints of logs it follows, if they only grow.",
    ),
    "admin": CommandEntry(
        "servinfo.deployment.admin_cli",
        "admin_app",
        "Break-glass administration, offline, with the master key.",
    ),
}


def load_command(name: str, entry: CommandEntry) -> click.Command:
    """Import ``entry``'s module and build its click command, named ``name``."""
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    # Mounted on a throwaway parent exactly as ``add_typer``/``command`` would mount it
    # on ``app``, so names, help and options come out the same.
    holder = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
        group = typer.main.get_command(holder)
        assert isinstance(group, typer.core.TyperGroup)
        return group.commands[name]
    # A Typer with one command and no callback builds to that command alone.
    holder.command(name)(target)
    return typer.main.get_command(holder)


class LazyGroup(typer.core.TyperGroup):
    """The top-level group: lists :data:`COMMANDS`, imports one only when it is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, click.Command] = {}
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        if self._listing:  # the help of the group itself needs the name and help line only
            return typer.core.TyperCommand(cmd_name, help=entry.help)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_command(cmd_name, entry)
        return self._loaded[cmd_name]

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.UsageError as error:
            # Typer suggests from the commands it holds; this group holds them in COMMANDS.
            matches = get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches and "Did you mean" not in error.message:
                suggestions = ", ".join(repr(m) for m in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="servinfo",
    cls=LazyGroup,
    help="Service Information, collected, stored, used and shared as the privacy notice says.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    # Typer builds a group only for an application with a callback or commands; the
    # commands come from COMMANDS, so this empty callback makes ``app`` a group.
    pass


#: Exit status for a usage or domain error (bad input, invalid policy, denied).
EXIT_ERROR = 2
#: Exit status for a failure servinfo did not anticipate.
EXIT_INTERNAL = 1


def json_requested(args: Sequence[str], *, malformed: bool = False) -> bool:
    """Whether the command ``args`` name was given ``--json``.

    Click's own parser answers, on the command the arguments lead to. When they
    are ``malformed`` (a usage error), the parser may have stopped before
    ``--json``; then a ``--json`` before any ``--`` counts if that command has it.
    """
    command: click.Command = typer.main.get_command(app)
    name, rest, parent = "servinfo", list(args), None
    try:
        while isinstance(command, typer.core.TyperGroup) and rest and not rest[0].startswith("-"):
            context = click.Context(command, info_name=name, parent=parent, resilient_parsing=True)
            found_name, found, rest = command.resolve_command(context, rest)
            if found is None or found_name is None:
                return False
            name, command, parent = found_name, found, context
        if isinstance(command, typer.core.TyperGroup):
            return False
        leaf = command.make_context(name, list(rest), parent=parent, resilient_parsing=True)
    except Exception:  # on the error path already: never add a traceback to it
        return False
    if leaf.params.get("as_json"):
        return True
    has_json = any("--json" in getattr(p, "opts", ()) for p in command.params)
    before_end = rest[: rest.index("--")] if "--" in rest else rest
    # A "--json" the parser took as another option's value is not the flag.
    values = [v for value in leaf.params.values() for v in _listed(value)]
    return malformed and has_json and "--json" in before_end and "--json" not in values


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _fail(
    args: Sequence[str], code: str, detail: str, *, human: str, malformed: bool = False
) -> None:
    """Report an error: ``{"error": code, "detail": …}`` on stderr under ``--json``, else
    the ``human`` line. The codes are the API's (``servinfo.api.errors``)."""
    if json_requested(args, malformed=malformed):
        print(json.dumps({"error": code, "detail": detail}), file=sys.stderr)
    else:
        err_console.print(human, markup=False, highlight=False)


def main(args: Sequence[str] | None = None) -> None:
    """Console-script entry point: never shows a traceback unless SERVINFO_DEBUG is set."""
    argv = list(sys.argv[1:] if args is None else args)
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of exiting.
        status = app(args=argv, standalone_mode=False)
    except ServinfoError as error:
        _fail(argv, error.code, error.message, human=f"error: {error.diagnostics()}")
        sys.exit(EXIT_ERROR)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        _fail(argv, "aborted", "aborted", human="aborted")
        sys.exit(EXIT_ERROR)
    except typer.TyperException as error:  # usage errors: unknown option, bad value …
        message = f"{error.format_message()} (see --help)"
        _fail(argv, "invalid_request", message, human=f"error: {message}", malformed=True)
        sys.exit(EXIT_ERROR)
    except Exception as error:  # the last line of defence against a traceback
        if os.environ.get("SERVINFO_DEBUG"):
            raise
        from servinfo.store.failures import storage_failure  # imports no driver

        failure = storage_failure(error)
        if failure is not None:  # a read-only or full disk, a corrupt file: not a bug
            _fail(argv, failure.code, failure.message, human=f"error: {failure.message}")
            sys.exit(EXIT_ERROR)
        detail = f"{type(error).__name__} (set SERVINFO_DEBUG=1 for details)"
        _fail(argv, "internal_error", detail, human=f"internal error: {detail}")
        sys.exit(EXIT_INTERNAL)
    sys.exit(status if isinstance(status, int) else 0)

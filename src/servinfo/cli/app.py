"""The ``servinfo`` command: one Typer application, one sub-command group per domain.

Domain packages own their commands (``servinfo/<domain>/cli.py``); this module
only mounts them and turns errors into one line and a non-zero exit.
"""

from __future__ import annotations

import os
import sys

import typer

from servinfo.access import cli as access_cli
from servinfo.api import cli as api_cli
from servinfo.audit import cli as audit_cli
from servinfo.cli._output import err_console
from servinfo.collect import cli as collect_cli
from servinfo.collect.simulator import cli as simulator_cli
from servinfo.deployment import cli as deployment_cli
from servinfo.errors import ServinfoError
from servinfo.ledgers import cli as ledgers_cli
from servinfo.policy import cli as policy_cli
from servinfo.rights import cli as rights_cli
from servinfo.rights.drp import cli as drp_cli

app = typer.Typer(
    name="servinfo",
    help="Service Information, collected, stored, used and shared as the privacy notice says.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
policy_cli.register(app)
deployment_cli.register(app)
access_cli.register(app)
api_cli.register(app)
ledgers_cli.register(app)
audit_cli.register(app)
collect_cli.register(app)
simulator_cli.register(app)
rights_cli.register(app)
drp_cli.register(app)

#: Exit status for a usage or domain error (bad input, invalid policy, denied).
EXIT_ERROR = 2
#: Exit status for a failure servinfo did not anticipate.
EXIT_INTERNAL = 1


def main() -> None:
    """Console-script entry point: never shows a traceback unless SERVINFO_DEBUG is set."""
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of exiting.
        status = app(standalone_mode=False)
    except ServinfoError as error:
        err_console.print(f"error: {error.diagnostics()}", markup=False, highlight=False)
        sys.exit(EXIT_ERROR)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("aborted", markup=False)
        sys.exit(EXIT_ERROR)
    except typer.TyperException as error:  # usage errors: unknown option, bad value …
        err_console.print(f"error: {error.format_message()} (see --help)", markup=False)
        sys.exit(EXIT_ERROR)
    except Exception as error:  # the last line of defence against a traceback
        if os.environ.get("SERVINFO_DEBUG"):
            raise
        err_console.print(
            f"internal error: {type(error).__name__} (set SERVINFO_DEBUG=1 for details)",
            markup=False,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(status if isinstance(status, int) else 0)

"""Options shared by many commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The deployment's data directory (default: $SERVINFO_DATA_DIR, else ./servinfo-data).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
#: The way to give a token that no other user sees: a file (mode 0600), read and stripped.
#: Commands declare it before ``TokenOption`` so that help shows it first.
TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        envvar="SERVINFO_TOKEN_FILE",
        help="A file holding your principal's token (mode 0600), or set SERVINFO_TOKEN "
        "to the token itself.",
        show_default=False,
        show_envvar=True,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SERVINFO_TOKEN",
        help="Your principal's token. On the command line other users see it (ps): "
        "prefer --token-file or SERVINFO_TOKEN.",
        show_default=False,
        show_envvar=True,
    ),
]

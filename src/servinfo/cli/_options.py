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
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SERVINFO_TOKEN",
        help="Your principal's token (or set SERVINFO_TOKEN). Never echoed.",
        show_default=False,
        show_envvar=True,
    ),
]

"""Console helpers shared by every command: Rich consoles and JSON output."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout, plainly, so scripts can parse it."""
    print(json.dumps(data, indent=2, sort_keys=False, default=str))

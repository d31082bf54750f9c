"""Refusing, in one line, a run whose peers are not installed."""

from __future__ import annotations

import argparse
import importlib.util


def require_peers(parser: argparse.ArgumentParser, *modules: str) -> None:
    """Exit (status 2) naming the missing ones unless every module in ``modules`` imports.

    The peers are bench-only dependencies (the ``bench`` extra), measured in the same run
    as servinfo: without them the run would have no baseline to print.
    """
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        parser.exit(
            2,
            f"{parser.prog}: the peers this run measures against are not installed "
            f"({', '.join(missing)}): pip install -e '.[bench]'\n",
        )

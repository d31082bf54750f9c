"""CLI start-up: ``servinfo`` against a bare Typer application with the same command tree.

Run: ``.venv/bin/python bench/cli.py [--repeat 9]``

The baseline is built in this run: a temporary module declares a Typer
application with servinfo's command tree — the same names, nested groups and
help texts — whose commands take no options and do nothing. Then each command
line runs as a fresh subprocess ``--repeat`` times and the median wall time is
printed: ``servinfo --help`` against the bare application's ``--help`` (the
target is at most 2×), a group's command help, and two common commands
(``policy check``; ``principals list`` on a deployment made here with ``servinfo
init --admin-token-file``). ``python -c pass`` shows the interpreter's own
start. docs/benchmarks.md ("CLI start-up") records the figures.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import typer
import typer.core
from typer import _click as click

from _machine import machine
from servinfo.cli.app import app

#: servinfo --help may take at most this many times the bare application's.
TARGET_RATIO = 2.0


def _help(command: click.Command) -> str:
    return inspect.cleandoc(command.help or "")


def _declare(command: typer.core.TyperGroup, ctx: click.Context, var: str, out: list[str]) -> None:
    """Append to ``out`` the lines that declare ``command``'s sub-commands on Typer ``var``."""
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        assert sub is not None, name
        if isinstance(sub, typer.core.TyperGroup):
            child = f"g{len(out)}"
            out.append(f"{child} = typer.Typer(help={_help(sub)!r}, no_args_is_help=True)")
            out.append(f"{var}.add_typer({child}, name={name!r})")
            _declare(sub, click.Context(sub, info_name=name, parent=ctx), child, out)
        else:
            out.append(f"{var}.command({name!r}, help={_help(sub)!r})(lambda: None)")


def bare_module(path: Path) -> None:
    """Write a Typer application with servinfo's command tree and no options to ``path``."""
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    lines = [
        "import typer",
        "app = typer.Typer(",
        f"    name='servinfo', help={_help(root)!r}, no_args_is_help=True,",
        "    pretty_exceptions_enable=False, add_completion=False,",
        ")",
    ]
    _declare(root, click.Context(root, info_name="servinfo"), "app", lines)
    lines.append("app()")
    path.write_text("\n".join(lines) + "\n", "utf-8")


def median_ms(argv: Sequence[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median and minimum wall time of ``repeat`` fresh runs of ``argv``, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip()
            raise SystemExit(f"{' '.join(argv[1:])} failed: {message}")
    return statistics.median(times), min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)

    typer_version = importlib.metadata.version("typer")
    print(f"machine: {machine(f'typer {typer_version}')}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")}
    env["COLUMNS"] = "100"
    python = sys.executable
    servinfo = [python, "-m", "servinfo"]
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare_servinfo.py"
        bare_module(bare)
        data_dir = Path(folder) / "deployment"
        token_file = Path(folder) / "admin.token"
        made = subprocess.run(
            [*servinfo, "init", "--data-dir", str(data_dir), "--admin-token-file", str(token_file)],
            env=env,
            capture_output=True,
            check=False,
        )
        if made.returncode != 0:
            raise SystemExit(f"servinfo init failed: {made.stderr.decode(errors='replace')}")
        deployment = ["--data-dir", str(data_dir), "--token-file", str(token_file)]
        runs = {
            "python -c pass": [python, "-c", "pass"],
            "bare Typer app --help": [python, str(bare), "--help"],
            "servinfo --help": [*servinfo, "--help"],
            "servinfo principals list --help": [*servinfo, "principals", "list", "--help"],
            "servinfo policy check": [*servinfo, "policy", "check"],
            "servinfo principals list": [*servinfo, "principals", "list", *deployment],
        }
        times = {name: median_ms(command, env, args.repeat) for name, command in runs.items()}

    bare_ms = times["bare Typer app --help"][0]
    print(f"{args.repeat} fresh processes per command line; medians")
    print()
    print("| command line | median ms | min ms | ÷ bare --help |")
    print("| --- | ---: | ---: | ---: |")
    for name, (median, fastest) in times.items():
        print(f"| `{name}` | {median:.0f} | {fastest:.0f} | {median / bare_ms:.2f}× |")
    ratio = times["servinfo --help"][0] / bare_ms
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print()
    print(f"servinfo --help / bare --help: {ratio:.2f}× (target ≤ {TARGET_RATIO:g}×): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

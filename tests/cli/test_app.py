"""The ``servinfo`` application: its table of commands, its lazy imports, its help texts."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
import typer.core
from typer import _click as click
from typer.testing import CliRunner

import servinfo
from servinfo.cli.app import COMMANDS, app

SRC = Path(servinfo.__file__).parent
#: What ``servinfo --help`` must not import: the server, the database, the deployment, redaction.
MARKUP = ("``", ":class:", ":func:")
HEAVY = ("fastapi", "sqlalchemy", "uvicorn", "servinfo.deployment", "servinfo.collect.redaction")


def _domain_cli_modules() -> list[str]:
    """Every module that mounts commands: ``servinfo/<domain>/[<sub>/]cli.py`` and ``*_cli.py``."""
    paths = [
        p
        for p in SRC.rglob("*.py")
        if (p.name == "cli.py" or p.name.endswith("_cli.py")) and p.parent.name != "cli"
    ]
    return sorted(".".join(("servinfo", *p.relative_to(SRC).with_suffix("").parts)) for p in paths)


def _help_line(target: object) -> str:
    if isinstance(target, typer.Typer):
        text = target.info.help
        assert isinstance(text, str)
    else:
        text = inspect.getdoc(target) or ""
    return text.strip().splitlines()[0]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_entry_resolves_and_its_help_is_the_commands(name: str) -> None:
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    assert isinstance(target, typer.Typer) or callable(target)
    assert entry.help == _help_line(target)


@pytest.mark.parametrize("module", _domain_cli_modules())
def test_every_registered_command_is_in_the_table(module: str) -> None:
    mounted = typer.Typer()
    importlib.import_module(module).register(mounted)
    names = [str(c.name) for c in mounted.registered_commands] + [
        str(g.name) for g in mounted.registered_groups
    ]
    assert names, f"{module}.register mounts nothing"
    assert {n: COMMANDS[n].module for n in names if n in COMMANDS} == dict.fromkeys(names, module)
    assert sorted(n for n, e in COMMANDS.items() if e.module == module) == sorted(names)


def test_the_table_names_only_modules_that_register() -> None:
    assert {e.module for e in COMMANDS.values()} <= set(_domain_cli_modules())


def test_help_and_import_load_no_domain() -> None:
    """``import servinfo.cli.app`` and ``servinfo --help`` stay clear of every heavy module."""
    script = textwrap.dedent(
        f"""
        import contextlib, io, sys
        from servinfo.cli.app import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            try:
                main(["--help"])
            except SystemExit as done:
                assert done.code == 0, done.code
        assert "principals" in out.getvalue() and "subjects" in out.getvalue()
        heavy = {HEAVY!r}
        print(sorted(m for m in sys.modules if m in heavy or m.startswith(heavy)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_help_lists_every_command_with_its_table_line() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    for name, entry in COMMANDS.items():
        assert f"{name} " in result.stdout
        assert entry.help in result.stdout


def test_a_group_runs_and_shows_its_own_help() -> None:
    result = CliRunner().invoke(app, ["policy", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    assert "activate" in result.stdout
    assert "--install-completion" not in result.stdout


def _walk(command: click.Command, path: tuple[str, ...]) -> list[tuple[str, click.Command]]:
    found = [(" ".join(path), command)]
    if isinstance(command, typer.core.TyperGroup):
        ctx = click.Context(command, info_name=path[-1])
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            found += _walk(sub, (*path, name))
    return found


def test_no_help_text_shows_markup() -> None:
    """Typer prints help verbatim: RST literals and Sphinx roles would show as they are."""
    marked = []
    for path, command in _walk(typer.main.get_command(app), ("servinfo",)):
        texts = [command.help or "", command.short_help or ""]
        texts += [getattr(p, "help", None) or "" for p in command.params]
        marked += [f"{path}: {t!r}" for t in texts if any(m in t for m in MARKUP)]
    assert marked == []

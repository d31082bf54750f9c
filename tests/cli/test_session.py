"""``--token-file``: a token no other user sees, beside every ``--token``."""

from __future__ import annotations

import typer
import typer.core
from tests.cli.conftest import Deployment, Servinfo
from typer import _click as click

from servinfo.cli.app import app


def _leaves(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    if not isinstance(command, typer.core.TyperGroup):
        return [(path, command)]
    ctx = click.Context(command, info_name=path)
    found = []
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        assert sub is not None
        found += _leaves(sub, f"{path} {name}")
    return found


def _options(command: click.Command) -> list[str]:
    return [opt for p in command.params for opt in getattr(p, "opts", ())]


def test_every_command_with_token_takes_a_token_file_shown_first() -> None:
    leaves = _leaves(typer.main.get_command(app), "servinfo")
    with_token = [(path, c) for path, c in leaves if "--token" in _options(c)]
    assert len(with_token) > 40
    for path, command in with_token:
        options = _options(command)
        assert "--token-file" in options, path
        assert options.index("--token-file") < options.index("--token"), path
        token = next(p for p in command.params if "--token" in getattr(p, "opts", ()))
        assert "ps" in (getattr(token, "help", None) or ""), path


def test_the_token_file_authenticates(servinfo: Servinfo, deployment: Deployment) -> None:
    done = servinfo(
        "principals", "list", "--json", "--data-dir", deployment.data_dir,
        "--token-file", deployment.token_file,
    )  # fmt: skip
    assert done.status == 0, done.err
    assert "admin" in done.out
    assert deployment.token_file.read_text().strip() not in done.out + done.err
    assert done.err == ""  # mode 0600: no warning


def test_the_token_file_from_the_environment(servinfo: Servinfo, deployment: Deployment) -> None:
    done = servinfo(
        "principals", "list", "--data-dir", deployment.data_dir,
        env={"SERVINFO_TOKEN_FILE": str(deployment.token_file)},
    )  # fmt: skip
    assert done.status == 0, done.err


def test_a_file_others_may_read_works_with_a_warning(
    servinfo: Servinfo, deployment: Deployment
) -> None:
    shared = deployment.token_file.parent / "shared.token"
    shared.write_text(deployment.token_file.read_text())
    shared.chmod(0o644)
    done = servinfo("principals", "list", "--data-dir", deployment.data_dir, "--token-file", shared)
    assert done.status == 0, done.err
    assert done.err.count("\n") == 1
    assert "warning: --token-file" in done.err
    assert "mode 0644" in done.err
    assert shared.read_text().strip() not in done.out + done.err


def test_a_missing_or_empty_file_is_one_clear_line(
    servinfo: Servinfo, deployment: Deployment
) -> None:
    missing = deployment.token_file.parent / "missing.token"
    done = servinfo(
        "principals", "list", "--data-dir", deployment.data_dir, "--token-file", missing
    )
    assert done.status == 2
    assert done.err == f"error: --token-file: {missing} does not exist\n"

    empty = deployment.token_file.parent / "empty.token"
    empty.write_text("\n")
    empty.chmod(0o600)
    done = servinfo("principals", "list", "--data-dir", deployment.data_dir, "--token-file", empty)
    assert done.status == 2
    assert done.err == f"error: --token-file: {empty} is empty\n"


def test_token_and_token_file_together_are_refused(
    servinfo: Servinfo, deployment: Deployment
) -> None:
    done = servinfo(
        "principals", "list", "--data-dir", deployment.data_dir,
        "--token-file", deployment.token_file, "--token", "something",
    )  # fmt: skip
    assert done.status == 2
    assert "not both" in done.err
    assert done.err.count("\n") == 1


def test_no_token_names_the_token_file(servinfo: Servinfo, deployment: Deployment) -> None:
    done = servinfo("principals", "list", "--data-dir", deployment.data_dir)
    assert done.status == 2
    assert done.err == "error: no token: pass --token-file FILE, or set SERVINFO_TOKEN\n"

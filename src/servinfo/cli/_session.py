"""The one way a CLI command opens the deployment as an authorized principal.

A token comes from ``--token-file`` (or ``SERVINFO_TOKEN_FILE``), or from
``--token`` (or ``SERVINFO_TOKEN``); :func:`resolve_token` is the one place
that chooses, and :func:`authorized` the one that checks it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from servinfo.cli._output import err_console

if TYPE_CHECKING:
    from servinfo.deployment import Deployment
    from servinfo.store import Principal

__all__ = ["authorized", "read_token_file", "resolve_token"]


def read_token_file(path: Path, option: str = "--token-file") -> str:
    """The token in ``path``, stripped; warns when others may read the file.

    A missing, unreadable or empty file is an error naming ``option`` and the
    path; the file's content is never shown.
    """
    from servinfo.access.errors import Unauthenticated

    try:
        mode = path.stat().st_mode
        token = path.read_text("utf-8").strip()
    except FileNotFoundError:
        raise Unauthenticated(f"{option}: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not a text file"
        raise Unauthenticated(f"{option}: cannot read {path}: {reason}") from None
    if not token:
        raise Unauthenticated(f"{option}: {path} is empty")
    wider = stat.S_IMODE(mode) & ~0o600
    if wider:
        err_console.print(
            f"warning: {option} {path} has mode {stat.S_IMODE(mode):04o}: other users may "
            f"read it; chmod 600 {path}",
            markup=False,
            highlight=False,
        )
    return token


def resolve_token(token: str | None, token_file: Path | None) -> str | None:
    """The token given with ``--token`` or in the ``--token-file``; never both."""
    if token is not None and token_file is not None:
        import typer

        raise typer.BadParameter(
            "give --token-file or --token (SERVINFO_TOKEN_FILE or SERVINFO_TOKEN), not both",
            param_hint="--token-file",
        )
    return read_token_file(token_file) if token_file is not None else token


@contextmanager
def authorized(
    data_dir: Path | None,
    token: str | None,
    permission: str | None = None,
    *,
    token_file: Path | None = None,
) -> Iterator[tuple[Deployment, Principal]]:
    """The deployment, and the principal the token belongs to if its role grants ``permission``.

    Checked exactly as the API checks a request: a bare name never acts as anyone.
    Without ``permission`` the principal is only authenticated: the command's own
    service decides what it may do (a read is decided per purpose and category).
    """
    from servinfo.access.errors import Unauthenticated
    from servinfo.deployment import open_deployment  # the composition root imports the CLIs

    secret = resolve_token(token, token_file)
    if not secret:
        raise Unauthenticated("no token: pass --token-file FILE, or set SERVINFO_TOKEN")
    with open_deployment(data_dir, dict(os.environ)) as deployment:
        principals = deployment.principal_service
        if permission is None:
            yield deployment, principals.authenticate(secret)
        else:
            yield deployment, principals.authorize(secret, permission)

"""The one way a CLI command opens the deployment as an authorized principal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from servinfo.deployment import Deployment
    from servinfo.store import Principal

__all__ = ["authorized"]


@contextmanager
def authorized(
    data_dir: Path | None, token: str | None, permission: str | None = None
) -> Iterator[tuple[Deployment, Principal]]:
    """The deployment, and the principal ``token`` belongs to if its role grants ``permission``.

    Checked exactly as the API checks a request: a bare name never acts as anyone.
    Without ``permission`` the principal is only authenticated: the command's own
    service decides what it may do (a read is decided per purpose and category).
    """
    from servinfo.deployment import open_deployment  # the composition root imports the CLIs

    with open_deployment(data_dir, dict(os.environ)) as deployment:
        principals = deployment.principal_service
        if permission is None:
            yield deployment, principals.authenticate(token)
        else:
            yield deployment, principals.authorize(token, permission)

"""``servinfo upgrade``: migrate an existing deployment's databases and stamp them.

Offline, like ``init``: it needs the data directory and its databases, no token
(see :mod:`servinfo.deployment.upgrade`).
"""

from __future__ import annotations

import os

import typer

from servinfo.cli._options import DataDirOption, JsonOption
from servinfo.cli._output import console, print_json


def register(app: typer.Typer) -> None:
    app.command("upgrade")(upgrade)


def upgrade(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Migrate an existing deployment's databases to this version and stamp them."""
    from servinfo.deployment.upgrade import upgrade_deployment

    result = upgrade_deployment(data_dir, dict(os.environ))
    if as_json:
        print_json(
            {
                "deployment_id": result.deployment_id,
                "newly_stamped": result.newly_stamped,
                "stores": list(result.stores),
            }
        )
        return
    stamped = "stamped with" if result.newly_stamped else "already of"
    console.print(
        f"{len(result.stores)} databases at the newest schema, {stamped} deployment "
        f"{result.deployment_id}: {', '.join(result.stores)}",
        markup=False,
    )

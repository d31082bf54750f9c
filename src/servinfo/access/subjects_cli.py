"""``servinfo subjects …``: the subjects servinfo holds data about."""

from __future__ import annotations

import typer

__all__ = ["register", "subjects_app"]

subjects_app = typer.Typer(
    help="The subjects servinfo holds data about: ids and home regions.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(subjects_app, name="subjects")

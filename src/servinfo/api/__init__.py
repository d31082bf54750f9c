"""The HTTP API: one FastAPI application; each domain contributes its routes.

Importing the package imports nothing else: a ``servinfo serve`` worker loads
``servinfo.api._protocol`` before it can answer uvicorn's health checks (see
:mod:`servinfo.api.server`), and ``servinfo --help`` loads ``servinfo.api.cli``;
neither may pull the application in. ``create_app`` is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from servinfo.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from servinfo.api.app import create_app

        return create_app
    raise AttributeError(f"module 'servinfo.api' has no attribute {name!r}")

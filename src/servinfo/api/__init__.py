"""The HTTP API: one FastAPI application; each domain contributes its routes."""

from servinfo.api.app import create_app

__all__ = ["create_app"]

"""Alembic script tree of the control database(s); run through :mod:."""

"""Alembic script tree of the region database(s); run through :mod:."""

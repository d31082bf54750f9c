"""Alembic environment of the control tree; see servinfo.store.migrations.run_migrations."""

from servinfo.store.migrations import run_migrations
from servinfo.store.models import control_metadata

run_migrations(control_metadata)

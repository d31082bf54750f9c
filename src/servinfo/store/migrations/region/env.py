"""Alembic environment of the region tree; see servinfo.store.migrations.run_migrations."""

from servinfo.store.migrations import run_migrations
from servinfo.store.models import region_metadata

run_migrations(region_metadata)

"""``servinfo upgrade``: bring an existing deployment's databases to this version's schema.

Every database is migrated to the newest schema of its tree. A deployment
created before stores were stamped gets its stamps here, in the migration's
transaction: a new deployment id in the control database, the same id and each
region's name in the region databases (:mod:`servinfo.store.identity`). A
database already stamped keeps its stamp; one stamped by another deployment, or
as another store, is refused, never restamped. At the end every store is
verified as :func:`servinfo.deployment.open_deployment` verifies it.

Run it on the deployment's own files only: a database with no stamp at all
cannot tell where it came from, so the upgrade takes it as the one in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from servinfo.config import load_settings, resolve_data_dir
from servinfo.deployment.create import control_migrations
from servinfo.deployment.runtime import open_engines
from servinfo.store.identity import (
    CONTROL,
    REGION,
    describe_store,
    new_deployment_id,
    read_stamp,
    verify_store,
    verify_stores,
)
from servinfo.store.migrations import migrate_control, migrate_region

__all__ = ["UpgradeResult", "upgrade_deployment"]


@dataclass(frozen=True)
class UpgradeResult:
    deployment_id: str
    #: True when this upgrade gave the deployment its id (it had no stamps before).
    newly_stamped: bool
    stores: tuple[str, ...]


def upgrade_deployment(data_dir: Path | None, env: Mapping[str, str]) -> UpgradeResult:
    """Migrate and stamp every database of the deployment in ``data_dir``."""
    settings = load_settings(resolve_data_dir(data_dir, env), env)
    control, regions = open_engines(settings)
    try:
        found = read_stamp(control)
        deployment_id = found.deployment_id if found is not None else new_deployment_id()
        # (1) a database stamped already must be this deployment's, in its place
        for region, engine in regions.items():
            if read_stamp(engine) is not None:
                verify_store(
                    engine,
                    deployment_id=deployment_id,
                    role=REGION,
                    region=region,
                    name=describe_store(engine, settings.data_dir),
                )
        # (2) schemas to head, and stamps where there were none, in each migration's transaction
        migrate_control(control, control_migrations(), deployment_id=deployment_id)
        for region, engine in regions.items():
            migrate_region(engine, deployment_id=deployment_id, region=region)
        # (3) everything as open_deployment will check it
        verify_stores(control, regions, settings.data_dir)
    finally:
        for engine in (control, *regions.values()):
            engine.dispose()
    return UpgradeResult(deployment_id, found is None, (CONTROL, *regions))

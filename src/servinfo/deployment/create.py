"""``servinfo init``: a new deployment in a data directory.

The steps run in an order that never loses a secret: nothing is overwritten,
the keyring is created before anything is encrypted with it, and
``servinfo.toml`` is written last, so that a directory holding it is a
complete deployment and a half-initialized one is refused with its reason.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from servinfo.config import (
    CONFIG_FILE_NAME,
    SETTINGS,
    load_settings,
    render_config_file,
    resolve_url,
)
from servinfo.crypto import (
    MASTER_KEY_ENV,
    Keyring,
    LocalMasterKeyWrapper,
    create_self_signed_certificate,
    generate_master_key_file,
    hash_token,
    load_master_key,
    new_token,
)
from servinfo.deployment.errors import AlreadyInitialized, DeploymentError
from servinfo.policy import Policy, load_policy
from servinfo.store import PolicyVersions, PrincipalStore, create_engine_for
from servinfo.store.identity import new_deployment_id
from servinfo.store.migrations import migrate_control, migrate_region

ADMIN_NAME = "admin"
ADMIN_ROLE = "admin"
DEPLOYMENT_POLICY_FILE = "policy.yaml"


def control_migrations() -> tuple[Path, ...]:
    """The migration branches of the domains that keep tables in the control database.

    Imported here rather than at the top: only ``init`` migrates, and the
    domain packages would add to the start of every command.
    """
    from servinfo.audit import AUDIT_MIGRATIONS
    from servinfo.collect.migrations import COLLECT_MIGRATIONS
    from servinfo.jobs.migrations import JOBS_MIGRATIONS
    from servinfo.ledgers import LEDGER_MIGRATIONS
    from servinfo.rights import RIGHTS_MIGRATIONS
    from servinfo.sharing.migrations import SHARING_MIGRATIONS

    return (
        AUDIT_MIGRATIONS,
        LEDGER_MIGRATIONS,
        COLLECT_MIGRATIONS,
        RIGHTS_MIGRATIONS,
        JOBS_MIGRATIONS,
        SHARING_MIGRATIONS,
    )


@dataclass(frozen=True)
class InitResult:
    data_dir: Path
    policy_version: str
    regions: tuple[str, ...]
    #: Shown once: only its hash is stored.
    admin_token: str
    master_key_file: Path | None


def _default(section: str, key: str) -> str:
    for setting in SETTINGS:
        if (setting.section, setting.key) == (section, key):
            return str(setting.default)
    raise KeyError(f"{section}.{key}")


def _database_urls(policy: Policy, template: str | None) -> tuple[str, dict[str, str]]:
    """Control and region URLs: SQLite files in the data directory unless a template
    such as ``postgresql+psycopg://postgres@127.0.0.1/servinfo_{name}`` is given."""
    if template is None:
        return "sqlite:///control.db", {r: f"sqlite:///regions/{r}.db" for r in policy.regions}
    if "{name}" not in template:
        raise DeploymentError(f"database URL template must contain '{{name}}', got {template!r}")
    return template.format(name="control"), {r: template.format(name=r) for r in policy.regions}


def _ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` when the server lacks it."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        return
    maintenance = create_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with maintenance.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(parsed.database)
                connection.execute(text(f"CREATE DATABASE {quoted}"))
    except OperationalError as error:
        raise DeploymentError(
            f"cannot reach PostgreSQL for database {parsed.database!r}: "
            f"{str(error.orig).splitlines()[0] if error.orig else error}"
        ) from None
    finally:
        maintenance.dispose()


def _check_key_dir(data_dir: Path, key_dir: Path, env: Mapping[str, str]) -> Path:
    """The master key file ``--key-dir`` names, refused before anything is created."""
    if env.get(MASTER_KEY_ENV):
        raise DeploymentError(
            f"--key-dir and {MASTER_KEY_ENV} both name the master key; give one of them"
        )
    key_dir = key_dir.resolve()
    if key_dir.is_relative_to(data_dir.resolve()):
        raise DeploymentError(
            f"--key-dir must be outside the data directory {data_dir}: a key beside the "
            "data it protects goes wherever a copy of the data goes"
        )
    key_file = key_dir / _default("keys", "master_key_file")
    if key_file.exists():
        raise AlreadyInitialized(
            f"{key_file} already exists; servinfo never overwrites a master key "
            "(the keyring it unlocks would become unreadable) — choose another --key-dir"
        )
    return key_file


def _refuse_existing(data_dir: Path) -> None:
    if (data_dir / CONFIG_FILE_NAME).exists():
        raise AlreadyInitialized(
            f"{data_dir} already holds a deployment ({CONFIG_FILE_NAME} exists); "
            "servinfo init never overwrites one — choose another --data-dir"
        )
    keyring = data_dir / _default("keys", "keyring_file")
    if keyring.exists():
        raise AlreadyInitialized(
            f"{keyring} already exists; servinfo never overwrites a keyring "
            "(move it away only if you are sure nothing is encrypted with it)"
        )


def create_deployment(
    data_dir: Path,
    env: Mapping[str, str],
    *,
    policy_file: Path | None = None,
    database_url_template: str | None = None,
    key_dir: Path | None = None,
    local_demo: bool = False,
    now: dt.datetime | None = None,
) -> InitResult:
    """Create a deployment in ``data_dir``; see the module docstring for the order.

    The master key goes to ``key_dir`` (outside ``data_dir``) when given, else
    beside the data unless ``SERVINFO_MASTER_KEY`` holds it. ``local_demo``
    records in ``servinfo.toml`` that this is the local demo (``make run``),
    whose key beside the data is not warned about.
    """
    now = now or dt.datetime.now(dt.UTC)
    key_file = _check_key_dir(data_dir, key_dir, env) if key_dir is not None else None
    _refuse_existing(data_dir)
    # Everything init creates holds or protects Service Information: owner-only.
    previous_umask = os.umask(0o077)
    try:
        return _create(data_dir, env, policy_file, database_url_template, now, key_file, local_demo)
    finally:
        os.umask(previous_umask)


def _create(
    data_dir: Path,
    env: Mapping[str, str],
    policy_file: Path | None,
    database_url_template: str | None,
    now: dt.datetime,
    key_file: Path | None,
    local_demo: bool,
) -> InitResult:
    policy = load_policy(policy_file)  # (1) a deployment starts from a valid policy
    control_url, region_urls = _database_urls(policy, database_url_template)

    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    (data_dir / "regions").mkdir(exist_ok=True)

    policy_setting = ""
    if policy_file is not None:  # (2) the deployment keeps its own copy of its policy
        shutil.copyfile(policy_file, data_dir / DEPLOYMENT_POLICY_FILE)
        policy_setting = DEPLOYMENT_POLICY_FILE

    master_key_file: Path | None = None  # (3) the master key, unless the environment has it
    if not env.get(MASTER_KEY_ENV):
        master_key_file = key_file or data_dir / _default("keys", "master_key_file")
        master_key_file.parent.mkdir(parents=True, exist_ok=True)
        generate_master_key_file(master_key_file)
    master_key = load_master_key(env, master_key_file)

    keyring = Keyring.create(  # (4) the keyring: a KEK per region, index, audit, export keys
        data_dir / _default("keys", "keyring_file"),
        LocalMasterKeyWrapper(master_key),
        regions=list(policy.regions),
        now=now,
    )
    del keyring

    create_self_signed_certificate(  # (5) HTTPS from the first start
        data_dir / _default("server", "tls_cert_file"),
        data_dir / _default("server", "tls_key_file"),
        organization=policy.organization.name,
        now=now,
    )

    for url in (control_url, *region_urls.values()):
        _ensure_postgres_database(url)
    control = create_engine_for(resolve_url(control_url, data_dir))
    deployment_id = new_deployment_id()
    try:  # (6) schemas and stamps, the active policy and the admin principal
        migrate_control(control, control_migrations(), deployment_id=deployment_id)
        for region, url in region_urls.items():
            engine = create_engine_for(resolve_url(url, data_dir))
            try:
                migrate_region(engine, deployment_id=deployment_id, region=region)
            finally:
                engine.dispose()
        PolicyVersions(control).record(
            policy.version, policy.model_dump_json(), activate=True, now=now
        )
        token = new_token()
        admin_role = policy.roles[ADMIN_ROLE]
        first_region = next(iter(policy.regions))
        PrincipalStore(control).add(
            ADMIN_NAME,
            admin_role.principal_kinds[0],
            ADMIN_ROLE,
            first_region,
            policy.regions[first_region].entity,
            hash_token(token),
            now=now,
        )
    finally:
        control.dispose()

    # (7) last: the settings file that marks the directory as a complete deployment
    config_text = render_config_file(
        region_urls,
        control_url,
        policy_setting,
        master_key_file=str(key_file) if key_file is not None else None,
        local_demo=local_demo,
    )
    (data_dir / CONFIG_FILE_NAME).write_text(config_text, "utf-8")
    load_settings(data_dir, env)  # what init wrote must read back
    return InitResult(
        data_dir=data_dir,
        policy_version=policy.version,
        regions=tuple(policy.regions),
        admin_token=token,
        master_key_file=master_key_file,
    )

"""Opening an existing deployment: settings → policy, keyring, engines, services."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from servinfo.config import Settings, load_settings, resolve_data_dir
from servinfo.crypto import Keyring, LocalMasterKeyWrapper, load_master_key
from servinfo.deployment.errors import DeploymentError
from servinfo.policy import Policy, load_policy_text
from servinfo.policy.loading import default_policy_text
from servinfo.store import (
    PolicyVersions,
    PrincipalStore,
    RecordWriter,
    SubjectDirectory,
    create_engine_for,
)


@dataclass
class Deployment:
    """Everything a command or the server needs, built once from the settings."""

    settings: Settings
    policy: Policy
    keyring: Keyring
    control: Engine
    regions: Mapping[str, Engine]
    directory: SubjectDirectory
    principals: PrincipalStore
    policy_versions: PolicyVersions
    _writer: RecordWriter | None = field(default=None, repr=False)

    @property
    def writer(self) -> RecordWriter:
        if self._writer is None:
            self._writer = RecordWriter(
                self.directory,
                self.regions,
                self.keyring,
                max_payload_bytes=self.settings.max_record_bytes,
            )
        return self._writer

    def close(self) -> None:
        self.control.dispose()
        for engine in self.regions.values():
            engine.dispose()

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _policy_text(settings: Settings) -> tuple[str, str]:
    if settings.policy_file is None:
        return default_policy_text(), "default.yaml"
    try:
        return settings.policy_file.read_text("utf-8"), settings.policy_file.name
    except OSError as error:
        raise DeploymentError(
            f"cannot read the deployment's policy {settings.policy_file}: {error.strerror}"
        ) from None


def open_deployment(data_dir: Path | None, env: Mapping[str, str]) -> Deployment:
    """Open the deployment in ``data_dir`` (or ``SERVINFO_DATA_DIR``, or ``./servinfo-data``).

    The active policy is the one recorded in the control database; the policy
    file is only read to check it is the same version, so that every worker
    enforces the same rules.
    """
    settings = load_settings(resolve_data_dir(data_dir, env), env)
    master_key = load_master_key(env, settings.master_key_file)
    keyring = Keyring.open(settings.keyring_file, LocalMasterKeyWrapper(master_key))
    control = create_engine_for(settings.control_url, role="control")
    regions = {
        region: create_engine_for(url, role="region")
        for region, url in settings.region_urls.items()
    }
    versions = PolicyVersions(control)
    active = versions.active()
    if active is not None:
        policy = Policy.model_validate(json.loads(active.document))
    else:
        text, source = _policy_text(settings)
        policy = load_policy_text(text, source)
    missing = sorted(set(policy.regions) - set(regions))
    if missing:
        raise DeploymentError(
            f"the policy declares regions with no database: {', '.join(missing)} "
            "(add them under [database.regions] in servinfo.toml)"
        )
    return Deployment(
        settings=settings,
        policy=policy,
        keyring=keyring,
        control=control,
        regions=regions,
        directory=SubjectDirectory(control, regions),
        principals=PrincipalStore(control),
        policy_versions=versions,
    )

"""Opening an existing deployment: settings → policy, keyring, engines, services.

Opening checks that every database is the one this deployment expects in its
place (:func:`servinfo.store.identity.verify_stores`): a foreign, misplaced or
stale database stops every command, and ``servinfo serve``, with one line that
names it. The stores are named so that a read-only, full or corrupt one is
reported as such (:mod:`servinfo.store.failures`).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast
from urllib.parse import urlsplit

from sqlalchemy import Engine

from servinfo.access.principals import PrincipalService
from servinfo.audit import AuditLog
from servinfo.audit.buffer import AuditBuffer
from servinfo.audit.signer import stored_origin
from servinfo.audit.witnessing import load_witness_policy
from servinfo.config import Settings, load_settings, resolve_data_dir
from servinfo.crypto import Keyring, LocalMasterKeyWrapper, load_master_key
from servinfo.deployment.errors import DeploymentError
from servinfo.deployment.schema import verify_schemas
from servinfo.policy import Policy, load_policy_text
from servinfo.policy.loading import default_policy_text
from servinfo.store import (
    PolicyVersions,
    PrincipalStore,
    RecordWriter,
    SubjectDirectory,
    create_engine_for,
)
from servinfo.store.failures import name_store
from servinfo.store.health import StoreHealth
from servinfo.store.identity import (
    CONTROL,
    REGION,
    describe_store,
    expected_generations,
    verify_store,
    verify_stores,
)

# The services that only some commands use are imported when first built (in
# their property below), so that a command such as ``servinfo principals list``
# does not import ingest (phonenumbers), the rights (exports) or the read path.
if TYPE_CHECKING:
    from servinfo.access.grants import GrantIssuer
    from servinfo.access.identifiers import IdentifierBackfill, SubjectFinder
    from servinfo.access.reads import ReadService
    from servinfo.access.runtime import PolicyRuntime
    from servinfo.access.states import SubjectStateCache
    from servinfo.access.subjects import SubjectListing
    from servinfo.audit.evidence import LogEvidence
    from servinfo.audit.policy import TrustPolicy
    from servinfo.audit.service import AuditService
    from servinfo.audit.witnessing import Witnessing, WitnessingThread
    from servinfo.collect.service import Collector
    from servinfo.jobs.service import JobService
    from servinfo.ledgers import Ledgers
    from servinfo.retention.ledger import BackupCatalogue, LedgerEntry, RecoveryLedger
    from servinfo.rights import RightsService
    from servinfo.sharing.services import SharingService

_T = TypeVar("_T")


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
    #: The id every database of the deployment is stamped with.
    deployment_id: str = ""
    _cache: dict[str, object] = field(default_factory=dict, repr=False)
    # Reentrant: building one service builds the ones it needs. Without the lock
    # the server's request threads each compiled the policy on the first requests.
    _building: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def _once(self, name: str, build: Callable[[], _T]) -> _T:
        service = self._cache.get(name)
        if service is None:
            with self._building:
                service = self._cache.get(name)
                if service is None:
                    service = self._cache[name] = build()
        return service  # type: ignore[return-value]

    def prepare_to_serve(self) -> None:
        """Build what requests use (the compiled policy above all) before the first one arrives."""
        self.runtime.refresh()
        self.collector.compiled()
        _ = self.principal_service, self.reads, self.rights

    @property
    def health(self) -> StoreHealth:
        """The stores' integrity and stamps as last checked (the server runs the checks)."""
        return self._once("health", self._build_health)

    def _build_health(self) -> StoreHealth:
        verifiers: dict[str, Callable[[Engine], object]] = {CONTROL: self._verify_control}
        for region in self.regions:
            verifiers[region] = partial(self._verify_region, region)
        return StoreHealth({CONTROL: self.control, **self.regions}, verifiers)

    def _verify_control(self, engine: Engine) -> None:
        verify_store(engine, deployment_id=self.deployment_id, role=CONTROL)

    def _verify_region(self, region: str, engine: Engine) -> None:
        verify_store(
            engine,
            deployment_id=self.deployment_id,
            role=REGION,
            region=region,
            # Read each time: a restore run by another process may have raised it.
            generation=expected_generations(self.control).get(region, 1),
            name=describe_store(engine, self.settings.data_dir),
        )

    @property
    def writer(self) -> RecordWriter:
        return self._once(
            "writer",
            lambda: RecordWriter(
                self.directory,
                self.regions,
                self.keyring,
                max_payload_bytes=self.settings.max_record_bytes,
                cache_size=self.settings.key_cache_size,
            ),
        )

    @property
    def audit(self) -> AuditLog:
        return self._once("audit", self._build_audit)

    def _build_audit(self) -> AuditLog:
        settings = self.settings
        state_file = settings.audit_signer_state_file
        origin = (
            settings.audit_origin
            or stored_origin(state_file)
            or default_origin(self.policy, self.deployment_id)
        )
        return AuditLog(
            self.control,
            self.keyring,
            signer_state_file=state_file,
            origin=origin,
            checkpoint_every_seconds=settings.audit_checkpoint_seconds,
            signs=settings.audit_sign_checkpoints,
        )

    @property
    def witness_policy(self) -> TrustPolicy | None:
        """The deployment's witness policy (``audit.witness_policy_file``), if it has one."""
        # Cached in a tuple: the cache rebuilds what it holds as None.
        found = self._once(
            "witness_policy",
            lambda: (load_witness_policy(self.settings.audit_witness_policy_file),),
        )
        return found[0]

    @property
    def audit_service(self) -> AuditService:
        from servinfo.audit.service import AuditService

        return self._once("audit_service", lambda: AuditService(self.audit, self.witness_policy))

    def witnessing(self) -> Witnessing:
        """Submissions to the witness policy's witnesses (there must be a policy)."""
        from functools import partial

        from servinfo.audit.witness_client import WitnessClient
        from servinfo.audit.witnessing import Witnessing

        policy = self.witness_policy
        if policy is None:
            raise DeploymentError(
                "no witness policy: write one to "
                f"{self.settings.audit_witness_policy_file.name} (a C2SP tlog-policy with the "
                "witnesses' URLs)"
            )
        allow = self.settings.audit_witness_allow_private
        return Witnessing(self.audit, policy, client=partial(WitnessClient, allow_private=allow))

    @property
    def audit_witnessing(self) -> WitnessingThread:
        """The server's timer: checkpoints of a quiet log, then the witnesses' cosignatures."""
        from servinfo.audit.witnessing import WitnessingThread

        def build() -> WitnessingThread:
            policy = self.witness_policy
            state = self.settings.audit_signer_state_file
            return WitnessingThread(
                self.audit,
                # The signing host submits its checkpoints; other hosts only append.
                self.witnessing() if policy is not None and self.audit.signs else None,
                state.with_name(state.name + ".witnessing.lock"),
                interval=max(0.2, float(self.settings.audit_checkpoint_seconds)),
            )

        return self._once("audit_witnessing", build)

    @property
    def audit_buffer(self) -> AuditBuffer:
        """Group commit for the entries of reads (see :mod:`servinfo.audit.buffer`)."""
        return self._once("audit_buffer", lambda: AuditBuffer(self.audit))

    @property
    def subject_states(self) -> SubjectStateCache:
        from servinfo.access.states import SubjectStateCache

        return self._once("subject_states", lambda: SubjectStateCache(self.ledgers))

    @property
    def runtime(self) -> PolicyRuntime:
        """The policy this process enforces; swapped when the active version changes."""
        from servinfo.access.runtime import PolicyRuntime

        return self._once(
            "runtime", lambda: PolicyRuntime(self.policy_versions, self.keyring, self.policy)
        )

    @property
    def ledgers(self) -> Ledgers:
        from servinfo.ledgers import Ledgers

        return self._once(
            "ledgers",
            lambda: Ledgers(
                self.control,
                self.directory,
                self.audit,
                lambda: self.runtime.current.policy,
                # The rights role reads a subject only while a verified request is open.
                open_request_check=lambda subject_id: self.rights.has_open_verified_request(
                    subject_id
                ),
            ),
        )

    @property
    def rights(self) -> RightsService:
        """Data-subject requests (:mod:`servinfo.rights`)."""
        from servinfo.rights import RightsService, notifier_named
        from servinfo.rights.contact import ContactMessages

        return self._once(
            "rights",
            lambda: RightsService(
                engine=self.control,
                policy=lambda: self.runtime.refresh().policy,
                directory=self.directory,
                writer=self.writer,
                reads=self.reads,
                ledgers=self.ledgers,
                audit=self.audit,
                principals=self.principals,
                keyring=self.keyring,
                notifier=notifier_named("outbox", self.control),
                flush_audit=self._flush_read_audit,
                forget_caches=(
                    self.subject_states.clear,
                    lambda: self.runtime.decider.cache.clear(),
                ),
                finder=self.subject_finder,
                messages=ContactMessages.from_settings(
                    self.settings, organization=self.policy.organization.name
                ),
                history=self._history_source(),
                before_shred=self.record_erasure,
            ),
        )

    def _history_source(self) -> LogEvidence:
        """The audit log's entries about a subject and their proofs, for access exports: the
        signing host has them cosigned by the witnesses first."""
        from servinfo.audit.evidence import LogEvidence

        policy = self.witness_policy
        signs = policy is not None and self.audit.signs
        return LogEvidence(self.audit, policy, self.witnessing if signs else None)

    def _flush_read_audit(self) -> None:
        buffer = self._cache.get("audit_buffer")
        if isinstance(buffer, AuditBuffer):
            buffer.flush()

    @property
    def principal_service(self) -> PrincipalService:
        return self._once(
            "principals",
            lambda: PrincipalService(self.principals, self.directory, self.policy, self.audit),
        )

    @property
    def jobs(self) -> JobService:
        """The job queue (:mod:`servinfo.jobs`), and its permission-checked operations."""
        from servinfo.jobs import JobQueue
        from servinfo.jobs.service import JobService

        return self._once(
            "jobs", lambda: JobService(JobQueue(self.control), self.principal_service, self.audit)
        )

    @property
    def subject_listing(self) -> SubjectListing:
        """Subject ids and home regions, for the principals allowed to list them."""
        from servinfo.access.subjects import SubjectListing

        return self._once(
            "subject_listing",
            lambda: SubjectListing(self.directory, self.principal_service, self.policy, self.audit),
        )

    @property
    def subject_finder(self) -> SubjectFinder:
        """Subjects by the identifiers they know (e-mail, phone, username), for those who
        answer their requests."""
        from servinfo.access.identifiers import SubjectFinder

        return self._once(
            "subject_finder",
            lambda: SubjectFinder(
                self.directory,
                self.regions,
                self.keyring,
                self.principal_service,
                lambda: self.runtime.refresh().policy,
                self.audit,
            ),
        )

    @property
    def identifier_backfill(self) -> IdentifierBackfill:
        """The identifier indexes of records stored before their kind declared any."""
        from servinfo.access.identifiers import IdentifierBackfill
        from servinfo.access.maintenance import FreeTextReader

        return self._once(
            "identifier_backfill",
            lambda: IdentifierBackfill(
                FreeTextReader(self.directory, self.regions, self.keyring),
                self.writer,
                self.directory,
                self.principal_service,
                lambda: self.runtime.refresh().policy,
                self.audit,
            ),
        )

    @property
    def reads(self) -> ReadService:
        from servinfo.access.reads import ReadService

        return self._once(
            "reads",
            lambda: ReadService(
                self.runtime,
                self.directory,
                self.regions,
                self.keyring,
                self.subject_states,
                self.audit_buffer,
                # Reads check grants; only the sharing service below can issue them.
                self._grant_issuer.verifier,
            ),
        )

    @property
    def _grant_issuer(self) -> GrantIssuer:
        from servinfo.access.grants import GrantIssuer

        return self._once("grant_issuer", GrantIssuer)

    @property
    def sharing(self) -> SharingService:
        """The one way Service Information leaves (:mod:`servinfo.sharing`)."""
        from servinfo.rights import notifier_named
        from servinfo.sharing.legal import LegalRequestStore
        from servinfo.sharing.services import SharingService, SubjectNotifier

        outbox = notifier_named("outbox", self.control)

        def tell(subject_id: str, payload: dict[str, object], at: dt.datetime) -> str:
            return outbox.notify("disclosure_notice", subject_id, payload, now=at)

        return self._once(
            "sharing",
            lambda: SharingService(
                runtime=self.runtime,
                reads=self.reads,
                ledgers=self.ledgers,
                directory=self.directory,
                principals=self.principal_service,
                issuer=self._grant_issuer,
                keyring=self.keyring,
                audit=self.audit,
                legal=LegalRequestStore(self.control),
                notifier=SubjectNotifier(tell),
                buffer=self.audit_buffer,
            ),
        )

    @property
    def collector(self) -> Collector:
        """Ingest: what the cloud services send, checked against the active policy."""
        from servinfo.collect.idempotency import IdempotencyStore
        from servinfo.collect.service import Collector

        return self._once(
            "collector",
            lambda: Collector(
                policy=lambda: self.runtime.refresh().policy,
                directory=self.directory,
                writer=self.writer,
                audit=self.audit,
                keyring=self.keyring,
                idempotency=IdempotencyStore(
                    self.control, dt.timedelta(hours=self.settings.idempotency_ttl_hours)
                ),
            ),
        )

    @property
    def shred_ledger(self) -> RecoveryLedger:
        """The shred ledger, kept apart from the data (:mod:`servinfo.retention.ledger`);
        each row it appends is mirrored into the audit log."""
        from servinfo.retention.ledger import RecoveryLedger

        return self._once(
            "shred_ledger",
            lambda: RecoveryLedger(
                self.settings.backup_shred_ledger_url, mirror=self._mirror_shred
            ),
        )

    def _mirror_shred(self, entry: LedgerEntry) -> None:
        self.audit.record(
            "shred_ledger",
            actor="servinfo",
            outcome=entry.kind,
            details={"seq": entry.seq, "hash": entry.hash},
        )

    @property
    def backup_catalogue(self) -> BackupCatalogue:
        """Every backup and its key, wrapped by the master key (apart from the data)."""
        from servinfo.retention.ledger import BackupCatalogue

        return self._once(
            "backup_catalogue", lambda: BackupCatalogue(self.settings.backup_catalogue_url)
        )

    def record_erasure(
        self, subject_id: str, kept_classes: Sequence[str], held: bool, at: dt.datetime
    ) -> str:
        """Write an erasure to the shred ledger before its keys are destroyed (a restore
        replays it): the subject by its keyed pseudonym only. ``<seq>:<hash>`` of the row,
        which the erasure's audit entry names (its mirror)."""
        from servinfo.retention.ledger import ERASURE, erasure_body

        entry = self.shred_ledger.append(
            ERASURE,
            erasure_body(self.keyring, subject_id, kept_classes, held=held),
            deployment_id=self.deployment_id,
            at=at,
            mirror=False,
        )
        return f"{entry.seq}:{entry.hash}"

    def close(self) -> None:
        for name in ("shred_ledger", "backup_catalogue"):
            store = self._cache.pop(name, None)
            if store is not None:
                cast("RecoveryLedger", store).close()
        health = self._cache.pop("health", None)
        if isinstance(health, StoreHealth):
            health.stop()
        witnessing = self._cache.pop("audit_witnessing", None)
        if witnessing is not None:
            cast("WitnessingThread", witnessing).stop()
        buffer = self._cache.pop("audit_buffer", None)
        if isinstance(buffer, AuditBuffer):
            buffer.close()
        audit = self._cache.get("audit")
        if isinstance(audit, AuditLog) and audit.appended:
            # A command's entries are signed before it exits, not whenever the next
            # process happens to sign.
            audit.sign_or_report()
        self.control.dispose()
        for engine in self.regions.values():
            engine.dispose()

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_origin(policy: Policy, deployment_id: str) -> str:
    """``<domain>/servinfo/<deployment id>``: the organization's web domain, or
    ``servinfo.invalid`` when the policy names none, so every deployment's log has its own."""
    url = policy.organization.contact.url
    host = urlsplit(str(url)).hostname if url else None
    return f"{host or 'servinfo.invalid'}/servinfo/{deployment_id or 'unstamped'}"


def _policy_text(settings: Settings) -> tuple[str, str]:
    if settings.policy_file is None:
        return default_policy_text(), "default.yaml"
    try:
        return settings.policy_file.read_text("utf-8"), settings.policy_file.name
    except OSError as error:
        raise DeploymentError(
            f"cannot read the deployment's policy {settings.policy_file}: {error.strerror}"
        ) from None


def _refuse_unreplayed(data_dir: Path) -> None:
    from servinfo.retention.restore import NOT_REPLAYED, restore_state

    state = restore_state(data_dir)
    if state is None:
        return
    if state.get("state") == NOT_REPLAYED:
        raise DeploymentError(
            f"{data_dir} was restored from backup {state.get('backup_id')} but its shred ledger "
            "was not replayed (erased subjects may be back): run 'servinfo backup replay' with "
            "the ledger, or 'servinfo backup accept-restore --reason TEXT' (audited)"
        )
    raise DeploymentError(
        f"{data_dir} is a restore that did not finish (restore-state.json): restore the "
        "backup again into a new directory"
    )


def open_engines(settings: Settings) -> tuple[Engine, dict[str, Engine]]:
    """The control engine and one engine per region, each named for its failures."""
    control = create_engine_for(settings.control_url)
    regions = {region: create_engine_for(url) for region, url in settings.region_urls.items()}
    name_store(control, CONTROL)
    for region, engine in regions.items():
        name_store(engine, region)
    return control, regions


def open_deployment(
    data_dir: Path | None, env: Mapping[str, str], *, allow_unreplayed: bool = False
) -> Deployment:
    """Open the deployment in ``data_dir`` (or ``SERVINFO_DATA_DIR``, or ``./servinfo-data``).

    The active policy is the one recorded in the control database; the policy
    file is only read to check it is the same version, so that every worker
    enforces the same rules. A restored deployment whose shred ledger is not
    replayed is refused (:mod:`servinfo.retention.restore`) unless
    ``allow_unreplayed`` (the restore itself, and its override).
    """
    settings = load_settings(resolve_data_dir(data_dir, env), env)
    if not allow_unreplayed:
        _refuse_unreplayed(settings.data_dir)
    master_key = load_master_key(env, settings.master_key_file)
    keyring = Keyring.open(settings.keyring_file, LocalMasterKeyWrapper(master_key))
    control, regions = open_engines(settings)
    try:
        deployment_id = verify_stores(control, regions, settings.data_dir)
        verify_schemas(control, regions, settings.data_dir)
    except BaseException:
        for engine in (control, *regions.values()):
            engine.dispose()
        raise
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
        deployment_id=deployment_id,
    )

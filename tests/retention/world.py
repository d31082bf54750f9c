"""A real deployment (SQLite in tmp_path, or PostgreSQL) with subjects under every regime.

Records go in through ingest (the collector), so their ``retain_until`` is the
one ingest computes from the policy. Organizations: partner ``org-partner``
(eu) with customer ``org-eu``; ``org-us``, ``org-uk``, ``org-ch``, ``org-sg``.
Subjects: ``subj-de`` (GDPR), ``subj-fr`` (GDPR), ``subj-ca`` (CCPA),
``subj-gb`` (UK GDPR), ``subj-ch`` (FADP), ``subj-sg`` (PDPA). Synthetic data only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from servinfo.access.reads import ReadService
from servinfo.collect.outcome import Outcome
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.retention.sweep import SweepReport, run_sweep
from servinfo.store import Principal
from servinfo.store.models import DataKeyRow, RecordRow

COLLECTED = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

SUBJECTS = {
    "subj-de": ("org-eu", "DE"),
    "subj-fr": ("org-eu", "FR"),
    "subj-ca": ("org-us", "US-CA"),
    "subj-gb": ("org-uk", "GB"),
    "subj-ch": ("org-ch", "CH"),
    "subj-sg": ("org-sg", "SG"),
}
HOME = {"org-eu": "eu", "org-us": "us", "org-uk": "uk", "org-ch": "ch", "org-sg": "apac"}

#: Valid fields of each kind used here, and the service that reports it.
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "account.profile": ("identity", {"username": "ada", "email": "ada@example.test"}),
    "account.agreement": ("identity", {"agreement_id": "AG-1", "signatory_name": "Ada Example"}),
    "telemetry.auth_event": ("identity", {"event": "login_success"}),
    "payments.charge": ("platform", {"invoice_id": "INV-1", "amount": 12.5, "currency": "EUR"}),
    "payments.credit_check": ("platform", {"check_id": "CC-1", "decision": "approve"}),
    "settings.feature": ("platform", {"feature": "backups", "enabled": True}),
    "telemetry.status": ("platform", {"resource_id": "vm-1", "state": "healthy"}),
    "telemetry.usage": ("platform", {"resource_id": "vm-1", "metric": "cpu", "quantity": 1}),
    "communications.feedback": ("support", {"channel": "console"}),
}


@dataclass
class RetentionWorld:
    deployment: Deployment
    services: dict[str, Principal]
    reader: Principal
    data_dir: Path
    #: Tokens of ``officer`` (privacy officer), ``analyst`` (no permission) and ``identity``.
    tokens: dict[str, str]

    def ingest(self, subject: str, kind: str, collected_at: dt.datetime = COLLECTED) -> str:
        service, fields = SAMPLES[kind]
        obj = {
            "type": "record",
            "subject": subject,
            "kind": kind,
            "collected_at": collected_at.isoformat(),
            "fields": fields,
        }
        [outcome] = self.deployment.collector.ingest_many([(self.services[service], obj, None)])
        assert isinstance(outcome, Outcome), outcome
        return outcome.id

    def report_subject(self, subject: str, **extra: Any) -> Outcome:
        org, jurisdiction = SUBJECTS[subject]
        obj = {"type": "subject", "id": subject, "org": org, "jurisdiction": jurisdiction, **extra}
        [outcome] = self.deployment.collector.ingest_many([(self.services["identity"], obj, None)])
        assert isinstance(outcome, Outcome), outcome
        return outcome

    def engine(self, subject: str) -> Engine:
        return self.deployment.regions[HOME[SUBJECTS[subject][0]]]

    def retain_until(self, record_id: str, subject: str) -> dt.date | None:
        with self.engine(subject).connect() as connection:
            found: dt.date | None = connection.scalar(
                select(RecordRow.retain_until).where(RecordRow.id == record_id)
            )
            return found

    def exists(self, record_id: str, subject: str) -> bool:
        with self.engine(subject).connect() as connection:
            return (
                connection.scalar(select(RecordRow.id).where(RecordRow.id == record_id)) is not None
            )

    def counts(self) -> dict[str, tuple[int, int]]:
        """(records, live data keys) per region."""
        found = {}
        for region, engine in self.deployment.regions.items():
            with engine.connect() as connection:
                records = connection.scalar(select(func.count()).select_from(RecordRow))
                keys = connection.scalar(
                    select(func.count()).where(DataKeyRow.wrapped.is_not(None))
                )
            found[region] = (int(records or 0), int(keys or 0))
        return found

    def sweep(self, day: dt.date, region: str = "eu", **options: Any) -> SweepReport:
        now = dt.datetime.combine(day, dt.time(3, 0), tzinfo=dt.UTC)
        return run_sweep(self.deployment, region, now=now, **options)

    def sweep_all(self, day: dt.date) -> dict[str, SweepReport]:
        return {region: self.sweep(day, region) for region in sorted(self.deployment.regions)}

    def reads(self, day: dt.date) -> ReadService:
        """The read path as of ``day``."""
        d = self.deployment
        return ReadService(
            d.runtime,
            d.directory,
            d.regions,
            d.keyring,
            d.subject_states,
            d.audit_buffer,
            today=_fixed(day),
        )

    def readable(self, subject: str, day: dt.date) -> set[str]:
        result = self.reads(day).read_subject(self.reader, "legal", subject)
        return {r.record_id for r in result.records}


def _fixed(day: dt.date) -> Callable[[], dt.date]:
    return lambda: day


@contextmanager
def build_world(tmp_path: Path, url_template: str | None = None) -> Iterator[RetentionWorld]:
    data_dir = tmp_path / "deployment"
    create_deployment(data_dir, {}, database_url_template=url_template)
    deployment = open_deployment(data_dir, {})
    try:
        directory = deployment.directory
        directory.add_organization("org-partner", "Example Partner", "eu")
        directory.add_organization("org-eu", "Example Org", "eu", parent_id="org-partner")
        for org, region in HOME.items():
            if org != "org-eu":
                directory.add_organization(org, f"Example {region}", region)
        service = deployment.principal_service
        issued = {
            name: service.add(
                f"svc-{name}",
                kind="service",
                role="ingest",
                region=None,
                binding=name,
                actor="admin",
            )
            for name in ("identity", "platform", "support")
        }
        services = {name: i.principal for name, i in issued.items()}
        tokens = {"identity": issued["identity"].token}
        for name, role in (("officer", "privacy_officer"), ("analyst", "product_analyst")):
            tokens[name] = service.add(
                name, kind="employee", role=role, region="eu", actor="admin"
            ).token
        reader = service.add(
            "counsel", kind="employee", role="legal_counsel", region="eu", actor="admin"
        ).principal
        world = RetentionWorld(deployment, services, reader, data_dir, tokens)
        for subject in SUBJECTS:
            world.report_subject(subject)
        yield world
    finally:
        deployment.close()

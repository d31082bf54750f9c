"""Stored free text catches up with the policy: the re-redaction run and job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.collect.test_redaction_by_policy import org_policy, org_policy_text, ticket, use_policy
from tests.collect.world import COLLECTED, IngestWorld
from typer.testing import CliRunner

from servinfo.access.maintenance import FreeTextReader
from servinfo.audit.subject_salts import subject_salts
from servinfo.cli.app import app
from servinfo.collect.redaction.by_policy import REDACTED_BY_KEY, PolicyRedaction
from servinfo.collect.reredaction import RERUN_ACTION, rerun_redaction
from servinfo.errors import ServinfoError
from servinfo.jobs.kinds import REDACTION_RERUN, servinfo_registry
from servinfo.policy import load_policy_text

TICKET = "communications.support_ticket"


def feedback(subject: str, message: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "kind": "communications.feedback",
        "collected_at": COLLECTED,
        "fields": {"message": message},
    }


def _post(world: IngestWorld, *objects: dict[str, Any]) -> None:
    for obj in objects:
        answer = world.post("support", obj)
        assert answer.status_code == 201, answer.text


def _tickets(world: IngestWorld, subject: str = "sub-ada") -> dict[str, dict[str, Any]]:
    return {
        r["fields"]["ticket_id"]: r["fields"] for r in world.records(subject) if r["kind"] == TICKET
    }


def _rerun_entries(world: IngestWorld, start: int) -> list[dict[str, Any]]:
    audit = world.deployment.audit
    audit_flush = getattr(world.deployment, "audit_buffer", None)
    if audit_flush is not None and hasattr(audit_flush, "flush"):
        audit_flush.flush()
    return [
        {"outcome": e.outcome, **dict(e.details)}
        for e in audit.entries(start, audit.size())
        if e.action == RERUN_ACTION
    ]


def _scenario(world: IngestWorld) -> None:
    """Records redacted under the default policy; then the organization's policy adds its
    customer-number pattern to support tickets: only the tickets that hold one change."""
    _post(
        world,
        ticket("sub-ada", "Account CU-12345678, write to ada@example.test", "T1"),
        ticket("sub-ada", "The console is slow today", "T2"),
        feedback("sub-ada", "Great service, thank you"),
    )
    before = _tickets(world)
    assert "CU-12345678" in before["T1"]["message"]  # no detector knew the format
    assert "<EMAIL>" in before["T1"]["message"]
    use_policy(world, org_policy())
    deployment = world.deployment
    start = deployment.audit.size()

    dry = rerun_redaction(deployment, "eu", actor="admin", dry_run=True)
    assert (dry.examined, dry.current, dry.changed, dry.restamped) == (3, 1, 1, 1)
    assert dry.found == {"CUSTOMER_NUMBER": 1}
    assert _tickets(world) == before  # nothing written

    done = rerun_redaction(deployment, "eu", actor="admin")
    assert (done.examined, done.current, done.changed, done.restamped, done.raced) == (
        3,
        1,
        1,
        1,
        0,
    )
    after = _tickets(world)
    fingerprint = PolicyRedaction(org_policy()).fingerprint(TICKET)
    assert after["T1"]["message"] == "Account <CUSTOMER_NUMBER>, write to <EMAIL>"
    assert after["T1"]["_redactions"] == {"EMAIL": 1, "CUSTOMER_NUMBER": 1}
    assert after["T1"][REDACTED_BY_KEY] == fingerprint
    assert after["T2"]["message"] == before["T2"]["message"]  # only restamped
    assert after["T2"][REDACTED_BY_KEY] == fingerprint
    assert before["T2"][REDACTED_BY_KEY] != fingerprint

    again = rerun_redaction(deployment, "eu", actor="admin")
    assert (again.examined, again.current, again.changed, again.restamped) == (3, 3, 0, 0)
    assert _tickets(world) == after

    entries = _rerun_entries(world, start)
    assert [e["outcome"] for e in entries] == ["dry_run", "rerun", "rerun"]
    assert entries[1]["region"] == "eu"
    assert entries[1]["changed"] == 1
    assert entries[1]["found"] == 1
    assert entries[2]["changed"] == 0
    logged = repr(entries)
    assert "CU-" not in logged
    assert "sub-ada" not in logged


def test_rerun_changes_only_what_changed_and_is_idempotent(world: IngestWorld) -> None:
    _scenario(world)


@pytest.mark.postgres
def test_rerun_on_postgresql(postgres_world: IngestWorld) -> None:
    _scenario(postgres_world)


class _Killed(Exception):
    pass


def test_a_killed_run_resumes_and_rewrites_no_record_twice(world: IngestWorld) -> None:
    _post(world, *(ticket("sub-ada", f"Ref CU-{n:08d}", f"T{n}") for n in range(5)))
    use_policy(world, org_policy())
    calls = 0

    def kill_after_two(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise _Killed

    with pytest.raises(_Killed):
        rerun_redaction(
            world.deployment, "eu", actor="admin", batch_size=1, progress=kill_after_two
        )
    halfway = _tickets(world)
    assert sum("<CUSTOMER_NUMBER>" in t["message"] for t in halfway.values()) == 2
    resumed = rerun_redaction(world.deployment, "eu", actor="admin", batch_size=1)
    assert (resumed.examined, resumed.current, resumed.changed) == (5, 2, 3)
    assert all(t["message"].startswith("Ref <CUSTOMER_NUMBER>") for t in _tickets(world).values())


def test_a_record_rectified_meanwhile_is_left_for_the_next_run(world: IngestWorld) -> None:
    from servinfo.store import Reseal

    _post(world, ticket("sub-ada", "Ref CU-00000001", "T1"))
    (record,) = [r for r in world.records("sub-ada") if r["kind"] == TICKET]
    stale = dict(record["fields"], message="what was read before the rectification")
    written = world.deployment.writer.reseal(
        "eu", [Reseal(record["id"], stale, {"message": "overwritten"})]
    )
    assert written == [False]
    assert _tickets(world)["T1"]["message"] == "Ref CU-00000001"


def test_pseudonyms_are_kept_when_text_is_redone(world: IngestWorld) -> None:
    use_policy(world, org_policy())
    _post(world, ticket("sub-ada", "mail ada@example.test", "T1"))
    first = _tickets(world)["T1"]["message"]
    assert first.startswith("mail <EMAIL:")
    # Tickets now also lose IPv4 addresses: a new fingerprint, but a pseudonym is a
    # replacement, never found again, so the text stays as it is.
    wider = org_policy_text().replace(
        "detect: [EMAIL, CARD, PHONE, CUSTOMER_NUMBER]",
        "detect: [EMAIL, CARD, PHONE, IPV4, CUSTOMER_NUMBER]",
    )
    use_policy(world, load_policy_text(wider))
    report = rerun_redaction(world.deployment, "eu", actor="admin")
    assert (report.changed, report.restamped) == (0, 1)
    assert _tickets(world)["T1"]["message"] == first


def test_the_job_reredacts_a_region(world: IngestWorld) -> None:
    from servinfo.collect.reredaction import redaction_version
    from servinfo.jobs import Worker
    from servinfo.jobs.kinds import deployment_registry, enqueue_redaction_rerun

    _post(world, ticket("sub-ada", "Ref CU-00000042", "T1"))
    use_policy(world, org_policy())
    deployment = world.deployment
    version = redaction_version(PolicyRedaction(org_policy()))
    job, new = enqueue_redaction_rerun(deployment.jobs.queue, "eu", version)
    _, again = enqueue_redaction_rerun(deployment.jobs.queue, "eu", version)
    assert new
    assert not again  # one job per region and version
    worker = Worker(deployment.jobs.queue, deployment_registry(deployment), deployment=deployment)
    ran = worker.run_one()
    assert ran is not None
    assert ran.id == job.id
    assert ran.state == "done", ran.last_error
    assert ran.result is not None
    assert ran.result["changed"] == 1
    assert _tickets(world)["T1"]["message"] == "Ref <CUSTOMER_NUMBER>"
    assert REDACTION_RERUN in servinfo_registry(["eu"]).kinds


def _invoke(data_dir: Path, token: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, [*args, "--data-dir", str(data_dir), "--token", token], env={"COLUMNS": "200"}
    )
    if isinstance(result.exception, ServinfoError):
        return 2, result.exception.message
    return result.exit_code, result.output


def test_the_command_dry_runs_runs_and_refuses(world: IngestWorld, deployment_dir: Path) -> None:
    _post(world, ticket("sub-ada", "Ref CU-00000042", "T1"))
    use_policy(world, org_policy())
    admin = world.tokens["admin"]
    code, out = _invoke(deployment_dir, admin, "redaction", "rerun", "--dry-run", "--json")
    assert code == 0, out
    reports = {r["region"]: r for r in json.loads(out)}
    assert reports["eu"]["changed"] == 1
    assert reports["eu"]["dry_run"] is True
    assert "CU-00000042" in _tickets(world)["T1"]["message"]
    code, out = _invoke(deployment_dir, admin, "redaction", "rerun", "--region", "eu")
    assert code == 0, out
    assert "Re-redaction" in out
    assert "CUSTOMER_NUMBER 1" in out
    assert _tickets(world)["T1"]["message"] == "Ref <CUSTOMER_NUMBER>"
    code, out = _invoke(deployment_dir, admin, "redaction", "rerun", "--region", "mars")
    assert code == 2
    assert "mars" in out
    assert "\n" not in out.strip()
    code, out = _invoke(deployment_dir, world.tokens["support-eu"], "redaction", "rerun")
    assert code != 0
    assert "reload_policy" in out


def test_the_hourly_check_queues_one_rerun_per_region_and_version(world: IngestWorld) -> None:
    from servinfo.jobs import Worker
    from servinfo.jobs.kinds import REDACTION_CHECK, deployment_registry

    deployment = world.deployment
    registry = deployment_registry(deployment)
    assert any(s.kind == REDACTION_CHECK for s in registry.schedules)
    worker = Worker(deployment.jobs.queue, registry, deployment=deployment)
    regions = len(deployment.regions)

    def check() -> dict[str, Any]:
        deployment.jobs.queue.enqueue(REDACTION_CHECK)
        while (job := worker.run_one()) is not None:
            if job.kind == REDACTION_CHECK:
                assert job.result is not None
                return job.result
        raise AssertionError("the check did not run")

    assert check()["queued"] == regions
    assert check()["queued"] == 0  # the same version: nothing more
    use_policy(world, org_policy())
    assert check()["queued"] == regions  # a new version: one more rerun per region


def test_an_erased_subjects_kept_records_are_redone_without_a_new_key(world: IngestWorld) -> None:
    _post(world, ticket("sub-ada", "Ref CU-00000007, mail ada@example.test", "T1"))
    deployment = world.deployment
    (record,) = [r for r in world.records("sub-ada") if r["kind"] == TICKET]
    # Erased, the ticket's class kept (a legal obligation), and the audit salt destroyed.
    deployment.writer.erase_subject("sub-ada", keep_classes=["standard"])
    deployment.audit.forget_subject("sub-ada")
    use_policy(world, org_policy())  # tickets now pseudonymize e-mail addresses
    report = rerun_redaction(deployment, "eu", actor="admin")
    assert report.changed == 1
    assert subject_salts(deployment.control, ["sub-ada"]) == {}  # nothing links again
    reader = FreeTextReader(deployment.directory, deployment.regions, deployment.keyring)
    (stored,) = [r for r in reader.records("eu", [TICKET]) if r.record_id == record["id"]]
    assert stored.fields["message"] == "Ref <CUSTOMER_NUMBER>, mail <EMAIL>"


def test_the_command_queues_once_per_region_and_version(
    world: IngestWorld, deployment_dir: Path
) -> None:
    admin = world.tokens["admin"]
    args = ("redaction", "rerun", "--background", "--json")
    code, out = _invoke(deployment_dir, admin, *args)
    assert code == 0, out
    first = json.loads(out)
    assert sorted(q["region"] for q in first) == sorted(world.deployment.regions)
    assert all(q["new"] for q in first)
    code, out = _invoke(deployment_dir, admin, *args)
    assert code == 0, out
    assert [q["job"] for q in json.loads(out)] == [q["job"] for q in first]
    assert not any(q["new"] for q in json.loads(out))
    code, _ = _invoke(deployment_dir, admin, "redaction", "rerun", "--background", "--dry-run")
    assert code != 0

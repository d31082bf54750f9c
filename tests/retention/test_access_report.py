"""The next access report says what a hold or the subject's request kept past retention, and why."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from tests.retention.world import RetentionWorld

#: The report is built with the real clock (as a request is processed): records
#: collected this long ago are past a 90-day retention, and within a 10-year one.
OLD = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)


def _access_report(world: RetentionWorld, subject: str, request_id: str | None = None) -> str:
    rights = world.deployment.rights
    if request_id is None:
        request_id = rights.open(
            "access", subject, channel="cli", actor="dpo", verified=True
        ).request_id
    done = rights.process(request_id, actor="dpo")
    assert done.state == "completed"
    _, blob = rights.export_archive(request_id)
    return zipfile.ZipFile(io.BytesIO(blob)).read("report.html").decode()


def test_a_hold_is_named_as_what_kept_the_records(sqlite_world: RetentionWorld) -> None:
    world = sqlite_world
    world.ingest("subj-de", "telemetry.status", OLD)
    world.ingest("subj-de", "payments.charge", OLD)
    world.deployment.ledgers.place_hold(subject_id="subj-de", reason="case 7", actor="admin")
    world.sweep(dt.datetime.now(dt.UTC).date())
    report = _access_report(world, "subj-de")
    assert "Kept past its retention period" in report
    kept = report[report.index("Kept past its retention period") :]
    name = world.deployment.policy.kinds()["telemetry.status"].name
    assert f"<td>{name}</td><td>1</td>" in kept
    assert "a legal hold on your account placed on" in kept
    assert "case 7" not in report  # a hold's reason is not the subject's to read


def test_an_open_request_is_named_as_what_kept_the_records(sqlite_world: RetentionWorld) -> None:
    world = sqlite_world
    world.ingest("subj-de", "telemetry.status", OLD)
    request = world.deployment.rights.open(
        "access", "subj-de", channel="cli", actor="dpo", verified=True
    )
    report = world.sweep(dt.datetime.now(dt.UTC).date())
    assert report.kept_by_request == {request.request_id: {"telemetry.status": 1}}
    html = _access_report(world, "subj-de", request.request_id)
    assert "while your request is answered" in html


def test_nothing_kept_nothing_said(sqlite_world: RetentionWorld) -> None:
    world = sqlite_world
    world.ingest("subj-de", "telemetry.status", OLD)
    world.ingest("subj-de", "payments.charge", OLD)
    # Past retention and not kept: not in the report, even before a sweep deleted it.
    html = _access_report(world, "subj-de")
    assert "Kept past its retention period" not in html

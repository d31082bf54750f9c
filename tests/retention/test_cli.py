"""``servinfo retention run`` and ``servinfo subjects close|reopen`` on a real deployment."""

from __future__ import annotations

import datetime as dt
import json

from tests.retention.world import RetentionWorld
from typer.testing import CliRunner

from servinfo.cli.app import app
from servinfo.errors import ServinfoError
from servinfo.retention.schedule import PROVISIONAL

#: Long enough ago that a 90-day kind has expired by the real clock the command uses.
OLD = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)


def _invoke(world: RetentionWorld, who: str, *args: str) -> tuple[int, str]:
    """The exit code, and the output or (for a refusal) the error ``main`` prints in one line."""
    result = CliRunner().invoke(
        app,
        [*args, "--data-dir", str(world.data_dir), "--token", world.tokens[who]],
        env={"COLUMNS": "200"},
    )
    if isinstance(result.exception, ServinfoError):
        return 2, result.exception.message
    return result.exit_code, result.output


def test_retention_run_dry_run_then_for_real(sqlite_world: RetentionWorld) -> None:
    world = sqlite_world
    expired = world.ingest("subj-de", "telemetry.status", OLD)
    live = world.ingest("subj-de", "payments.charge", OLD)
    code, out = _invoke(
        world, "officer", "retention", "run", "--dry-run", "--json", "--region", "eu"
    )
    assert code == 0, out
    [report] = json.loads(out)
    assert report["dry_run"] is True
    assert report["deleted"] == {"telemetry.status": 1}
    assert world.exists(expired, "subj-de")

    code, out = _invoke(world, "officer", "retention", "run")
    assert code == 0, out
    assert "telemetry.status" in out
    assert "eu: 1 records deleted, 1 data keys destroyed" in out
    assert not world.exists(expired, "subj-de")
    assert world.exists(live, "subj-de")


def test_retention_run_needs_the_permission_and_a_known_region(
    sqlite_world: RetentionWorld,
) -> None:
    world = sqlite_world
    code, out = _invoke(world, "analyst", "retention", "run")
    assert code != 0
    assert "manage_ledgers" in out
    code, out = _invoke(world, "officer", "retention", "run", "--region", "mars")
    assert code != 0
    assert "mars" in out


def test_subjects_close_and_reopen(sqlite_world: RetentionWorld) -> None:
    world = sqlite_world
    profile = world.ingest("subj-de", "account.profile")

    def end() -> dt.date | None:
        return world.retain_until(profile, "subj-de")

    code, out = _invoke(
        world, "identity", "subjects", "close", "subj-de", "--at", "2026-06-10T08:00:00", "--json"
    )
    assert code == 0, out
    assert json.loads(out) == {
        "subject": "subj-de",
        "status": "closed",
        "closed_at": "2026-06-10T08:00:00+00:00",
        "records": 1,
    }
    assert end() == dt.date(2026, 7, 10)  # settled at once: 30 days after closure
    code, out = _invoke(world, "officer", "subjects", "reopen", "subj-de")
    assert code == 0, out
    assert "subj-de: reopened; 1 records' retention recomputed" in out
    assert end() == PROVISIONAL
    entries = world.deployment.audit.tail(5)
    assert [e.outcome for e in entries if e.action == "account_closure"] == ["closed", "reopened"]
    # A principal with neither permission is refused, in one line.
    code, out = _invoke(world, "analyst", "subjects", "close", "subj-de")
    assert code != 0
    assert "register_subjects" in out


def test_retention_held_lists_what_each_hold_keeps(sqlite_world: RetentionWorld) -> None:
    world = sqlite_world
    world.ingest("subj-de", "telemetry.status", OLD)
    world.ingest("subj-fr", "telemetry.status", OLD)
    world.ingest("subj-fr", "payments.charge", OLD)  # within retention: nothing to keep
    ledgers = world.deployment.ledgers
    on_subject = ledgers.place_hold(subject_id="subj-de", reason="r", actor="admin")
    on_partner = ledgers.place_hold(org_id="org-partner", reason="r", actor="admin")
    assert _invoke(world, "officer", "retention", "run")[0] == 0
    code, out = _invoke(world, "officer", "retention", "held", "--json")
    assert code == 0, out
    listed = {entry["hold"]: entry for entry in json.loads(out)}
    assert listed[on_subject.hold_id]["kept"] == {"telemetry.status": 1}
    assert listed[on_partner.hold_id]["kept"] == {"telemetry.status": 2}
    assert listed[on_partner.hold_id]["by_region"] == {"eu": 2}
    assert "subj-" not in out
    code, out = _invoke(world, "officer", "retention", "held")
    assert code == 0, out
    assert on_subject.hold_id in out

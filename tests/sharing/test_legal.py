"""The legal-requirement basis: intake, review by another principal, approve / narrow /
reject with reasons, Art. 48/49 for third-country authorities, the approved scope only,
sealed to the authority's key; the subject told unless a gag order applies — end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from tests.sharing.world import NOW, OTHER, SUBJECT, World

from servinfo.access.errors import Forbidden
from servinfo.cli.app import main
from servinfo.crypto.recipients import new_recipient_key_pair, open_package
from servinfo.rights.notifier import OutboxNotifier
from servinfo.sharing import DisclosureDenied
from servinfo.sharing.legal import LegalRequest, LegalScope
from servinfo.sharing.transparency import Period, build_report

KEYS = new_recipient_key_pair()
SCOPE = LegalScope((SUBJECT,), ("account", "payments"))


def _intake(world: World, *, country: str = "DE", gag: bool = False, **extra: str) -> LegalRequest:
    return world.deployment.sharing.intake(
        world.principals["counsel-a"], authority="Staatsanwaltschaft Berlin", country=country,
        instrument="StPO §95 order 2026/117", scope=SCOPE, deadline=dt.date(2026, 12, 21),
        recipient_key=KEYS.public_text(), gag=gag, now=NOW, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def _notices(world: World, subject: str) -> list[dict[str, object]]:
    outbox = OutboxNotifier(world.deployment.control)
    return [n.payload for n in outbox.notices(recipient=subject, kind="disclosure_notice")]


def _history(world: World, subject: str) -> bytes:
    world.deployment.audit_buffer.flush()
    history = world.deployment.audit.subject_history(subject)
    return b"" if history is None else b"\n".join(raw for _, raw in history.entries)


def _report(world: World, threshold: int = 5) -> dict[str, Any]:
    return build_report(
        world.deployment.runtime.current.policy,
        Period.parse("2026H2"),
        world.deployment.sharing.legal_requests(),
        world.deployment.ledgers.disclosures(),
        threshold=threshold,
    )


def test_a_request_not_yet_approved_is_not_disclosed(world: World) -> None:
    request = _intake(world)
    with pytest.raises(DisclosureDenied, match="is received; only an approved or narrowed"):
        world.deployment.sharing.disclose_legal(world.principals["officer"], request.request_id)
    assert world.deployment.ledgers.disclosures() == []


def test_the_intake_principal_never_reviews_its_own_request(world: World) -> None:
    request = _intake(world)
    with pytest.raises(DisclosureDenied, match="taken in by 'counsel-a'"):
        world.deployment.sharing.review(
            world.principals["counsel-a"], request.request_id, decision="approve", reasons="ok"
        )
    with pytest.raises(Forbidden, match="lacks the permission 'review_legal_requests'"):
        world.deployment.sharing.review(
            world.principals["officer"], request.request_id, decision="approve", reasons="ok"
        )
    assert world.deployment.sharing.legal_request(request.request_id).state == "received"


def test_a_rejection_keeps_its_reasons_and_discloses_nothing(world: World) -> None:
    request = _intake(world)
    rejected = world.deployment.sharing.review(
        world.principals["counsel-b"], request.request_id, decision="reject",
        reasons="the order names no offence",
    )  # fmt: skip
    assert (rejected.state, rejected.reasons) == ("rejected", "the order names no offence")
    with pytest.raises(DisclosureDenied, match="is rejected"):
        world.deployment.sharing.disclose_legal(world.principals["officer"], request.request_id)


def test_scope_exceeded_is_refused(world: World) -> None:
    request = _intake(world)
    sharing = world.deployment.sharing
    wider = LegalScope((SUBJECT, OTHER), ("account",))
    with pytest.raises(DisclosureDenied, match="asks beyond it: subject 'subj-eu-2'"):
        sharing.review(
            world.principals["counsel-b"], request.request_id, decision="narrow",
            reasons="only the account", narrowed=wider,
        )  # fmt: skip
    narrowed = sharing.review(
        world.principals["counsel-b"], request.request_id, decision="narrow",
        reasons="payments are not needed for this offence",
        narrowed=LegalScope((SUBJECT,), ("account",)),
    )  # fmt: skip
    assert narrowed.state == "narrowed"
    with pytest.raises(DisclosureDenied, match="exceeds the approved scope: category 'payments'"):
        sharing.disclose_legal(world.principals["officer"], request.request_id, scope=SCOPE)
    package = sharing.disclose_legal(world.principals["officer"], request.request_id)
    assert {r["category"] for r in package.records} == {"account"}


def test_a_third_country_authority_needs_an_agreement_or_a_derogation(world: World) -> None:
    sharing = world.deployment.sharing
    request = _intake(world, country="US")
    with pytest.raises(DisclosureDenied, match=r"Art\. 48\) or a recorded Art\. 49 derogation"):
        sharing.review(
            world.principals["counsel-b"], request.request_id, decision="approve", reasons="ok"
        )
    under_treaty = _intake(world, country="US", agreement="EU-US MLAT (2003), Art. 8")
    approved = sharing.review(
        world.principals["counsel-b"], under_treaty.request_id, decision="approve",
        reasons="MLAT request through the central authority",
    )  # fmt: skip
    assert approved.state == "approved"


def test_end_to_end_the_authority_opens_the_package_and_the_subject_is_told(
    world: World,
) -> None:
    sharing = world.deployment.sharing
    request = _intake(world)
    sharing.review(
        world.principals["counsel-b"], request.request_id, decision="approve",
        reasons="a valid order within its scope",
    )  # fmt: skip
    package = sharing.disclose_legal(world.principals["officer"], request.request_id)
    assert package.sealed is not None
    content = json.loads(
        open_package(package.sealed, KEYS.private, world.deployment.keyring.verify_key_bytes())
    )
    assert sorted(r["id"] for r in content["records"]) == sorted(
        [world.record_ids["profile"], world.record_ids["invoice"]]
    )
    manifest = content["manifest"]
    assert manifest["legal_request"]["id"] == request.request_id
    assert manifest["basis"] == "legal_requirement"
    with pytest.raises(Exception, match="cannot be opened"):
        open_package(
            package.sealed, new_recipient_key_pair().private,
            world.deployment.keyring.verify_key_bytes(),
        )  # fmt: skip
    [told] = _notices(world, SUBJECT)
    assert told["legal_request"] == request.request_id
    assert world.deployment.sharing.legal_request(request.request_id).state == "disclosed"
    [disclosure] = world.deployment.ledgers.disclosures(subject_id=SUBJECT, visible_at=NOW)
    assert (disclosure.basis, disclosure.recipient_kind) == ("legal_requirement", "authority")
    # every step is in the audit log
    world.deployment.audit_buffer.flush()
    audit = world.deployment.audit
    steps = [e.outcome for e in audit.entries(0, audit.size()) if e.action == "legal_request"]
    assert steps == ["intake", "approved", "disclosed"]
    # the transparency report counts it (exactly with no suppression; "<5" as published)
    exact = _report(world, threshold=1)["legal_requests"]
    assert exact["rows"] == [
        {"country": "DE", "type": "domestic", "outcome": "disclosed", "requests": 1}
    ]
    assert (exact["total"], exact["subjects_disclosed"], exact["records_disclosed"]) == (1, 1, 2)
    published = _report(world)["legal_requests"]
    assert (published["total"], published["under_gag_order"]) == ("<5", "0-9")


def test_end_to_end_under_a_gag_order_the_subject_learns_nothing_until_it_lifts(
    world: World,
) -> None:
    sharing = world.deployment.sharing
    request = _intake(world, gag=True)
    sharing.review(
        world.principals["counsel-b"], request.request_id, decision="approve",
        reasons="a valid order; the court forbids telling the subject",
    )  # fmt: skip
    before = _history(world, SUBJECT)
    package = sharing.disclose_legal(world.principals["officer"], request.request_id)
    assert package.records
    now = dt.datetime.now(dt.UTC)
    assert _notices(world, SUBJECT) == []
    assert world.deployment.ledgers.disclosures(subject_id=SUBJECT, visible_at=now) == []
    assert _history(world, SUBJECT) == before  # nothing about it in the subject's history
    assert len(world.deployment.ledgers.disclosures(subject_id=SUBJECT)) == 1  # registered
    # a gagged request is counted only in a band, never in a row
    gagged = _report(world, threshold=1)["legal_requests"]
    assert (gagged["rows"], gagged["total"], gagged["under_gag_order"]) == ([], 0, "0-9")
    sharing.lift_gag(world.principals["officer"], request.request_id)
    [told] = _notices(world, SUBJECT)
    assert told["gag_lifted"] is True
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert len(world.deployment.ledgers.disclosures(subject_id=SUBJECT, visible_at=later)) == 1
    assert b"legal_requirement" in _history(world, SUBJECT)


def test_the_cli_takes_in_reviews_and_discloses(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = ("--data-dir", str(tmp_path / "deployment"))

    def run(who: str, *argv: str) -> int:
        monkeypatch.setenv("SERVINFO_TOKEN", world.tokens[who])
        with pytest.raises(SystemExit) as exited:
            main([*argv, *data_dir])
        return int(exited.value.code or 0)

    assert run(
        "counsel-a", "legal", "intake", "--authority", "Police", "--country", "DE",
        "--instrument", "order 1", "--subject", SUBJECT, "--category", "account",
        "--deadline", "2026-12-21", "--recipient-key", KEYS.public_text(), "--json",
    ) == 0  # fmt: skip
    request_id = json.loads(capsys.readouterr().out)["id"]
    assert run("counsel-a", "legal", "review", request_id, "--decision", "approve",
               "--reasons", "mine") == 2  # fmt: skip
    assert "taken in by 'counsel-a'" in capsys.readouterr().err
    assert run("counsel-b", "legal", "review", request_id, "--decision", "approve",
               "--reasons", "valid") == 0  # fmt: skip
    out = tmp_path / "package.bin"
    assert run("officer", "legal", "disclose", request_id, "--out", str(out), "--json") == 0
    content = json.loads(
        open_package(out.read_bytes(), KEYS.private, world.deployment.keyring.verify_key_bytes())
    )
    assert [r["id"] for r in content["records"]] == [world.record_ids["profile"]]
    assert out.stat().st_mode & 0o077 == 0
    capsys.readouterr()
    assert run("officer", "processors", "list", "--json") == 0
    listed = {p["id"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["relay_mail"]["contract"]["state"] == "in_force"
    html = tmp_path / "transparency.html"
    assert run("officer", "transparency", "report", "--period", "2026H2", "--format", "html",
               "--out", str(html)) == 0  # fmt: skip
    page = html.read_text("utf-8")
    assert "<svg" in page
    assert "<script" not in page
    assert "Relay Mail Services Inc." in page
    assert run("officer", "transparency", "report", "--period", "2026H3") == 2

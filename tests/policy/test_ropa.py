"""The records of processing (GDPR Art. 30(1)) compiled from the policy."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from servinfo.policy import Policy, load_policy
from servinfo.policy.ropa import (
    CSV_COLUMNS,
    PROTECTED_LEGAL_AREAS,
    RopaRecord,
    ropa_csv,
    ropa_json,
    ropa_records,
)

TODAY = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(today=TODAY)


def _variant(policy: Policy, change: Callable[[dict[str, Any]], None]) -> Policy:
    """A copy of ``policy`` with ``change`` applied to its data."""
    data = policy.model_dump(mode="json")
    change(data)
    return Policy.model_validate(data)


def _record(records: list[RopaRecord], purpose: str) -> RopaRecord:
    return next(r for r in records if r.purpose == purpose)


def test_one_record_per_purpose_including_sub_purposes(policy: Policy) -> None:
    records = ropa_records(policy)
    assert [r.purpose for r in records] == list(policy.purposes)
    credit = _record(records, "provide.credit_check")
    assert credit.parent == "provide"
    assert credit.automated_decisions


def test_controller_regional_entities_and_dpo(policy: Policy) -> None:
    record = ropa_records(policy)[0]
    assert record.controller.name == policy.organization.name
    assert record.controller.email == policy.organization.contact.email
    assert record.dpo.email == policy.organization.dpo.email
    by_region = {c.region: c.controller.name for c in record.controllers_by_region}
    assert by_region == {
        rid: policy.legal_entities[r.entity].name for rid, r in policy.regions.items()
    }


def test_legal_basis_per_regime_uses_the_regime_text(policy: Policy) -> None:
    credit = _record(ropa_records(policy), "provide.credit_check")
    bases = {b.regime: b for b in credit.legal_bases}
    assert set(bases) == set(policy.regimes)
    assert bases["gdpr"].basis == "legitimate_interests"
    assert bases["gdpr"].basis_text == policy.regimes["gdpr"].bases["legitimate_interests"]
    assert "credit losses" in bases["gdpr"].detail


def test_personal_data_is_narrowed_by_purpose_fields(policy: Policy) -> None:
    credit = _record(ropa_records(policy), "provide.credit_check")
    data = {d.kind: d for d in credit.personal_data}
    profile = data["account.profile"]
    assert not profile.all_fields
    assert profile.fields == tuple(
        policy.purposes["provide.credit_check"].fields["account.profile"]
    )
    assert "phone" not in profile.fields
    agreement = data["account.agreement"]
    assert agreement.all_fields
    assert agreement.fields == tuple(policy.categories["account"].kinds["agreement"].fields)
    assert {d.category for d in credit.personal_data} == {"account", "payments"}


def test_recipients_are_those_declaring_exactly_the_purpose(policy: Policy) -> None:
    records = ropa_records(policy)
    credit = {r.id for r in _record(records, "provide.credit_check").recipients}
    provide = {r.id for r in _record(records, "provide").recipients}
    assert "crediva" in credit
    assert "crediva" not in provide  # a parent does not inherit its sub-purpose's recipients
    assert "relay_mail" not in credit  # nor a sub-purpose its parent's
    assert {"relay_mail", "sahaya_support", "support_engineer"} <= provide
    # Data subjects and services are not recipients.
    assert "account_holder" not in provide
    assert "ingest" not in provide


def test_a_processor_without_the_purposes_categories_is_no_recipient(policy: Policy) -> None:
    def narrow(data: dict[str, Any]) -> None:
        data["processors"]["relay_mail"]["purposes"] = ["provide", "improve_use"]

    changed = _variant(policy, narrow)
    improve = _record(ropa_records(changed), "improve_use")
    # relay_mail receives account and communications; improve_use uses neither.
    assert "relay_mail" not in {r.id for r in improve.recipients}


def test_transfers_leave_only_protected_areas_with_their_safeguards(policy: Policy) -> None:
    provide = _record(ropa_records(policy), "provide")
    sources = {t.source_region for t in provide.transfers}
    assert sources == {
        rid for rid, r in policy.regions.items() if r.legal_area in PROTECTED_LEGAL_AREAS
    }
    eu_us = next(t for t in provide.transfers if (t.source_region, t.destination) == ("eu", "us"))
    assert [s.id for s in eu_us.safeguards] == ["eu_dpf", "eu_scc"]
    assert eu_us.importers == ("IMS - Network Inc.", "Relay Mail Services Inc.")
    eu_uk = next(t for t in provide.transfers if (t.source_region, t.destination) == ("eu", "uk"))
    assert eu_uk.safeguards[0].expires == dt.date(2031, 12, 27)
    # Sahaya (India) serves only us and apac, which are not protected areas.
    assert all(t.destination != "IN" for t in provide.transfers)


def test_a_processor_country_is_a_destination_only_for_its_purposes(policy: Policy) -> None:
    def serve_eu(data: dict[str, Any]) -> None:
        data["processors"]["sahaya_support"]["regions"] = ["eu", "us", "apac"]

    records = ropa_records(_variant(policy, serve_eu))
    to_india = [t for t in _record(records, "provide").transfers if t.destination == "IN"]
    assert [(t.source_region, t.importers) for t in to_india] == [
        ("eu", ("Sahaya Support Services Pvt. Ltd.",))
    ]
    assert [s.id for s in to_india[0].safeguards] == ["eu_scc"]
    assert all(t.destination != "IN" for t in _record(records, "legal").transfers)


def test_erasure_limits_per_kind_with_regime_overrides(policy: Policy) -> None:
    legal = _record(ropa_records(policy), "legal")
    limits = {e.kind: e for e in legal.erasure}
    assert set(limits) == set(policy.kinds())
    charge = limits["payments.charge"]
    assert charge.period == "10 years"
    assert charge.starts == "collected"
    assert not charge.erased_on_request
    assert ("uk_gdpr", "6 years") in charge.by_regime
    profile = limits["account.profile"]
    assert profile.erased_on_request
    assert profile.starts == "account_closed"


def test_security_measures_and_data_subjects_are_listed(policy: Policy) -> None:
    record = ropa_records(policy)[0]
    assert [m.id for m in record.security_measures] == list(policy.security_measures)
    assert [s.id for s in record.data_subjects] == list(policy.data_subjects)


def test_json_carries_version_and_date_passed_in(policy: Policy) -> None:
    document = json.loads(ropa_json(policy, version="v-test", generated_on=dt.date(2026, 1, 2)))
    assert document["policy_version"] == "v-test"
    assert document["generated_on"] == "2026-01-02"
    assert [r["purpose"] for r in document["records"]] == list(policy.purposes)
    eu_uk = document["records"][0]["transfers"][0]
    assert eu_uk["safeguards"][0]["expires"] == "2031-12-27"


def test_json_defaults_to_the_policy_version_and_today(policy: Policy) -> None:
    before = dt.date.today().isoformat()
    document = json.loads(ropa_json(policy))
    after = dt.date.today().isoformat()
    assert document["policy_version"] == policy.version
    assert document["generated_on"] in {before, after}


def test_csv_has_a_header_and_one_row_per_purpose(policy: Policy) -> None:
    reader = csv.DictReader(io.StringIO(ropa_csv(policy)))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert [r["purpose_id"] for r in rows] == list(policy.purposes)
    credit = rows[1]
    assert credit["parent_purpose"] == "provide"
    assert credit["automated_decisions"] == "yes"
    assert credit["data_subjects"].split("; ") == [s.name for s in policy.data_subjects.values()]
    assert "Crediva Information Services GmbH" in credit["recipients"]
    assert "expires 2031-12-27" in credit["third_country_transfers"]
    assert "account.profile: 30 days from account closure" in credit["erasure_time_limits"]


def test_csv_cells_cannot_start_a_spreadsheet_formula(policy: Policy) -> None:
    def formula(data: dict[str, Any]) -> None:
        data["purposes"]["legal"]["name"] = "=HYPERLINK(1)"

    rows = list(csv.DictReader(io.StringIO(ropa_csv(_variant(policy, formula)))))
    assert rows[-1]["purpose"] == "'=HYPERLINK(1)"


def test_cli_writes_csv_with_a_row_per_purpose(policy: Policy) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "servinfo", "ropa", "--format", "csv"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(r["purpose_id"] for r in rows) == sorted(policy.purposes)
    assert all(r["legal_bases"] and r["erasure_time_limits"] for r in rows)

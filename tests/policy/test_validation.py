"""Each kind of broken policy is rejected with a precise, located message.

The broken policies are made by editing the text of the shipped default policy,
so that each test also pins the line the message must point at.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from servinfo.policy import PolicyInvalid, check_policy_text, load_policy, load_policy_text
from servinfo.policy.loading import CheckResult, default_policy_text

TODAY = dt.date(2026, 11, 26)


def _edit(old: str, new: str, count: int = 1) -> str:
    text = default_policy_text()
    assert text.count(old) >= count, f"fixture text not found in default policy: {old!r}"
    return text.replace(old, new, count)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _check(text: str) -> CheckResult:
    return check_policy_text(text, "policy.yaml", TODAY)


def _messages(result: CheckResult) -> list[str]:
    return [str(p) for p in result.errors]


def test_default_policy_is_valid() -> None:
    result = _check(default_policy_text())
    assert result.errors == []
    assert result.policy is not None
    assert result.policy.version.startswith("sha256:")


def test_fixed_ids_are_declared() -> None:
    policy = load_policy(today=TODAY)
    assert set(policy.categories) == {
        "account",
        "payments",
        "settings",
        "telemetry",
        "communications",
    }
    assert {"provide", "improve_use", "improve_service", "protect", "legal"} <= set(policy.purposes)
    assert set(policy.regions) == {"eu", "uk", "ch", "us", "apac"}
    expected_roles = {
        "support_engineer",
        "billing_ops",
        "sre",
        "security_analyst",
        "product_analyst",
        "legal_counsel",
        "privacy_officer",
        "ingest",
        "rights",
    }
    assert expected_roles <= set(policy.roles)
    kinds = policy.kinds()
    for kind_id in (
        "account.profile",
        "telemetry.crash_report",
        "telemetry.auth_event",
        "communications.support_ticket",
        "payments.credit_check",
    ):
        assert kind_id in kinds
    credit = policy.purposes["provide.credit_check"]
    assert credit.parent == "provide"
    assert credit.objectable
    assert credit.automated_decisions
    assert credit.grounds["gdpr"].basis == "legitimate_interests"


def test_unknown_category_reference_names_path_line_and_declared_ids() -> None:
    text = _edit(
        "    categories: [payments, settings, telemetry]",
        "    categories: [payments, settings, billing]",
    )
    result = _check(text)
    line = _line_of(text, "categories: [payments, settings, billing]")
    assert (
        f"policy.yaml:{line} purposes.improve_use.categories[2]: unknown category 'billing' "
        "(declared: account, communications, payments, settings, telemetry)"
    ) in _messages(result)
    assert result.policy is None


def test_unknown_key_is_refused_with_expected_keys() -> None:
    text = _edit(
        "    objectable: false\n    fideslang: essential.service\n",
        "    objectable: false\n    objectible: true\n    fideslang: essential.service\n",
    )
    messages = _messages(_check(text))
    line = _line_of(text, "objectible")
    assert any(
        m.startswith(f"policy.yaml:{line} purposes.provide.objectible: unknown key 'objectible'")
        and "objectable" in m
        for m in messages
    ), messages


def test_dangling_references_are_each_reported() -> None:
    text = _edit("    entity: ims_uk\n", "    entity: ims_gb\n")
    text = text.replace("    purposes: [protect]\n", "    purposes: [protection]\n", 1)
    messages = _messages(_check(text))
    assert any("regions.uk.entity: unknown legal entity 'ims_gb'" in m for m in messages)
    assert any(
        "roles.security_analyst.purposes[0]: unknown purpose 'protection'" in m for m in messages
    )


def test_purpose_without_ground_under_a_regime() -> None:
    old = (
        '      fadp: {basis: no_justification_needed, detail: "Processing in line with the '
        'principles of Art. 6 FADP for the contract; no justification is needed."}\n'
    )
    text = _edit(old, "")
    messages = _messages(_check(text))
    assert any("purposes.provide.grounds: no ground under regime 'fadp'" in m for m in messages), (
        messages
    )


def test_ground_basis_must_be_one_the_regime_knows() -> None:
    text = _edit("gdpr: {basis: contract,", "gdpr: {basis: contractual,")
    messages = _messages(_check(text))
    assert any(
        "purposes.provide.grounds.gdpr.basis: got basis 'contractual', "
        "expected one of gdpr's bases:" in m
        for m in messages
    ), messages


def test_region_pair_without_transfer_rule() -> None:
    text = _edit("    us: [eu_dpf, eu_scc]\n", "")
    messages = _messages(_check(text))
    assert any("transfers.eu: no transfer rule from region 'eu' to 'us'" in m for m in messages), (
        messages
    )


def test_expired_adequacy_decision_in_use() -> None:
    text = _edit("    expires: 2031-12-27\n", "    expires: 2025-06-27\n")
    result = _check(text)
    line = _line_of(text, "    uk: [eu_adequacy_uk]")
    assert (
        f"policy.yaml:{line} transfers.eu.uk[0]: "
        "adequacy decision 'eu_adequacy_uk' expired on 2025-06-27"
    ) in _messages(result)


def test_adequacy_still_valid_on_its_last_day() -> None:
    result = check_policy_text(default_policy_text(), "policy.yaml", dt.date(2031, 12, 27))
    assert not [p for p in result.errors if "expired" in p.message]


def test_dpf_needs_a_certified_importer() -> None:
    text = _edit("    dpf_certified: true\n  ims_sg:", "  ims_sg:")
    messages = _messages(_check(text))
    assert any("transfers.eu.us[0]" in m and "certified" in m for m in messages), messages


def test_duplicate_ids_are_refused() -> None:
    text = _edit(
        "  ims_sg:\n", "  ims_us:\n    name: Again\n    country: US\n    address: x\n  ims_sg:\n"
    )
    result = _check(text)
    line = _line_of(text, "  ims_us:\n    name: Again")
    assert (
        f"policy.yaml:{line} legal_entities.ims_us: duplicate id 'ims_us' "
        "(an earlier entry has the same key)"
    ) in _messages(result)


def test_retention_period_that_does_not_parse() -> None:
    text = _edit("retention: {period: 13 months,", "retention: {period: thirteen months,")
    result = _check(text)
    line = _line_of(text, "thirteen months")
    assert any(
        m.startswith(
            f"policy.yaml:{line} categories.telemetry.kinds.usage.retention.period: "
            "cannot parse duration 'thirteen months'"
        )
        for m in _messages(result)
    ), _messages(result)


def test_malformed_yaml_gives_line_and_column() -> None:
    text = _edit(
        "    categories: [payments, settings, telemetry]",
        "    categories: [payments, settings, telemetry",
    )
    result = _check(text)
    assert result.policy is None
    (problem,) = result.errors
    assert problem.line is not None
    assert problem.column is not None
    assert f"line {problem.line}, column {problem.column}" in problem.message


def test_type_errors_name_the_field() -> None:
    text = _edit(
        "    objectable: false\n    fideslang: essential.service\n",
        "    objectable: maybe\n    fideslang: essential.service\n",
    )
    messages = _messages(_check(text))
    assert any("purposes.provide.objectable:" in m and "'maybe'" in m for m in messages), messages


def test_unknown_region_in_role_and_kind_in_service() -> None:
    text = _edit("      - settings.feature\n", "      - settings.features\n")
    text = text.replace("    regions: [us, apac]\n", "    regions: [us, mars]\n", 1)
    messages = _messages(_check(text))
    assert any(
        "services.platform.kinds[1]: unknown kind 'settings.features'" in m for m in messages
    )
    assert any("processors.sahaya_support.regions[1]: unknown region 'mars'" in m for m in messages)


def test_not_a_mapping() -> None:
    result = _check("- just\n- a list\n")
    assert [p.message for p in result.errors] == ["the policy must be a YAML mapping"]


def test_load_policy_text_raises_with_every_problem() -> None:
    text = _edit("    entity: ims_uk\n", "    entity: ims_gb\n")
    with pytest.raises(PolicyInvalid) as raised:
        load_policy_text(text, "policy.yaml", TODAY)
    assert raised.value.problems
    assert "the policy has 1 error" in raised.value.diagnostics()


def test_version_changes_with_content() -> None:
    base = load_policy_text(default_policy_text(), today=TODAY)
    changed = load_policy_text(_edit("period: 13 months", "period: 12 months"), today=TODAY)
    assert base.version != changed.version
    assert base.version == load_policy_text(default_policy_text(), today=TODAY).version


def test_regime_follows_jurisdiction() -> None:
    policy = load_policy(today=TODAY)
    assert policy.regime_for("DE") == "gdpr"
    assert policy.regime_for("GB") == "uk_gdpr"
    assert policy.regime_for("CH") == "fadp"
    assert policy.regime_for("US-CA") == "ccpa"
    assert policy.regime_for("SG") == "pdpa"
    assert policy.regime_for("US-TX") == policy.default_regime


def test_transfer_destination_for_processor_countries() -> None:
    policy = load_policy(today=TODAY)
    assert policy.transfer_destination("eu", "NL") is None  # within the EEA: no transfer
    assert policy.transfer_destination("uk", "NL") == "eu"
    assert policy.transfer_destination("eu", "US") == "us"
    assert policy.transfer_destination("apac", "IN") == "IN"
    with pytest.raises(KeyError):
        policy.transfer_destination("eu", "BR")


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "servinfo", *args], capture_output=True, text=True, check=False
    )


def test_cli_check_valid_default_policy() -> None:
    done = _run_cli("policy", "check")
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


def test_cli_check_reports_located_errors_and_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text(
        _edit(
            "    categories: [payments, settings, telemetry]",
            "    categories: [payments, settings, billing]",
        ),
        "utf-8",
    )
    done = _run_cli("policy", "check", str(broken))
    assert done.returncode == 2
    assert "purposes.improve_use.categories[2]: unknown category 'billing'" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_check_missing_file_is_one_line(tmp_path: Path) -> None:
    done = _run_cli("policy", "check", str(tmp_path / "absent.yaml"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: policy file not found:")


def test_cli_show_json_has_version() -> None:
    done = _run_cli("policy", "show", "--json")
    assert done.returncode == 0, done.stderr
    assert '"version": "sha256:' in done.stdout


def test_unknown_fideslang_key_must_be_declared() -> None:
    text = _edit("    fideslang: essential.service\n", "    fideslang: essential.servise\n")
    result = _check(text)
    line = _line_of(text, "fideslang: essential.servise")
    assert (
        f"policy.yaml:{line} purposes.provide.fideslang: 'essential.servise' is not a fideslang "
        "data use key; declare it under fideslang_extensions"
    ) in _messages(result)


def test_a_country_without_a_name_to_publish_is_an_error() -> None:
    # XK (Kosovo) is a valid code with no entry in the name table.
    text = _edit("    country: IN\n", "    country: XK\n")
    text = text.replace("    IN: [", "    XK: [")
    result = _check(text)
    line = _line_of(text, "    country: XK")
    assert any(
        m.startswith(f"policy.yaml:{line} processors.sahaya_support.country: country 'XK' has no")
        for m in _messages(result)
    ), _messages(result)
    assert any("transfers.eu.XK: country 'XK' has no name" in m for m in _messages(result))


def test_the_notice_date_must_be_a_date() -> None:
    text = _edit("    last_updated: 2026-05-04\n", "    last_updated: soon\n")
    messages = _messages(_check(text))
    assert any("organization.notice.last_updated" in m for m in messages), messages

"""The policy decides how free text is redacted: profiles, replacements, custom patterns."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from servinfo.collect.redaction import TYPES
from servinfo.policy import check_policy_text, load_policy_text
from servinfo.policy.loading import CheckResult, default_policy_text
from servinfo.policy.model import Replacement
from servinfo.policy.redaction import (
    BUILTIN_TYPES,
    TYPE_NAMES,
    check_pattern,
    describe_field,
    field_redaction,
)

TODAY = dt.date(2026, 11, 26)
_PROFILES = "  profiles:\n    standard:\n"
_TICKET = (
    "message: {type: text, description: The request or a reply, free_text: true, "
    "required: true, provenance: provided, max_length: 100000}"
)


def _with(redaction: str, ticket_profile: str | None = None) -> str:
    """The default policy with ``redaction`` (YAML, indented as under ``redaction:``)
    replacing its redaction section, and the support ticket's message naming a profile."""
    text = default_policy_text()
    start = text.index("redaction:\n  default_profile")
    end = text.index("\nout_of_scope:")
    text = text[:start] + "redaction:\n" + redaction + text[end:]
    if ticket_profile is not None:
        assert text.count(_TICKET) == 1
        text = text.replace(_TICKET, _TICKET[:-1] + f", redaction: {ticket_profile}}}")
    return text


_ORG = """  default_profile: standard
  profiles:
    standard:
      description: Everything, tagged.
      detect: [SECRET, CARD, IBAN, EMAIL, NATIONAL_ID, PASSPORT, DATE_OF_BIRTH, IPV6, IPV4,
        PHONE, ADDRESS, PERSON, CUSTOMER_NUMBER]
    tickets:
      description: Support tickets.
      detect: [EMAIL, CARD, PHONE, CUSTOMER_NUMBER]
      replace:
        EMAIL: pseudonym
        CARD: {mode: mask, keep_last: 4}
  patterns:
    customer_number:
      name: customer numbers
      type: CUSTOMER_NUMBER
      regex: 'CU-[0-9]{8}'
      replacement: {mode: mask, keep_last: 2}
"""


def _check(text: str) -> CheckResult:
    return check_policy_text(text, "policy.yaml", TODAY)


def _errors(text: str) -> list[str]:
    return [str(p) for p in _check(text).errors]


def test_the_policy_lists_the_engines_types() -> None:
    assert BUILTIN_TYPES == TYPES
    assert set(TYPE_NAMES) == set(BUILTIN_TYPES)


def test_the_default_policy_keeps_type_tags_everywhere() -> None:
    policy = load_policy_text(default_policy_text(), today=TODAY)
    for kind in policy.kinds().values():
        for spec in kind.fields.values():
            if spec.free_text:
                resolved = field_redaction(policy, spec)
                assert resolved.builtin == BUILTIN_TYPES
                assert {r.mode for r in resolved.replacements.values()} == {"tag"}
                assert not resolved.pseudonymizes


def test_a_policy_without_a_redaction_section_keeps_type_tags() -> None:
    text = default_policy_text()
    start = text.index("redaction:\n  default_profile")
    text = text[:start] + text[text.index("\nout_of_scope:") + 1 :]
    policy = load_policy_text(text, today=TODAY)
    spec = policy.kinds()["communications.support_ticket"].fields["message"]
    resolved = field_redaction(policy, spec)
    assert resolved.profile is None
    assert resolved.types == BUILTIN_TYPES


def test_a_field_gets_its_profile_and_the_patterns_it_detects() -> None:
    policy = load_policy_text(_with(_ORG, "tickets"), today=TODAY)
    ticket = policy.kinds()["communications.support_ticket"].fields["message"]
    resolved = field_redaction(policy, ticket)
    assert resolved.profile == "tickets"
    assert resolved.builtin == ("CARD", "EMAIL", "PHONE")  # the engine's priority order
    assert [pid for pid, _ in resolved.patterns] == ["customer_number"]
    assert resolved.replacements["EMAIL"].mode == "pseudonym"
    assert resolved.replacements["CARD"] == Replacement(mode="mask", keep_last=4)
    assert resolved.replacements["PHONE"].mode == "tag"
    # The pattern's own replacement where the profile says nothing.
    assert resolved.replacements["CUSTOMER_NUMBER"] == Replacement(mode="mask", keep_last=2)
    assert resolved.pseudonymizes
    feedback = policy.kinds()["communications.feedback"].fields["message"]
    assert field_redaction(policy, feedback).profile == "standard"
    assert field_redaction(policy, feedback).digest() != resolved.digest()


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"mode": "mask"}, "a mask names keep_last"),
        ({"mode": "tag", "keep_last": 2}, "keep_last is for a mask, not a tag"),
        ({"mode": "mask", "keep_last": 9}, "less than or equal to 6"),
        ("hash", "Input should be 'tag', 'mask' or 'pseudonym'"),
    ],
)
def test_replacements_are_checked(value: object, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Replacement.model_validate(value)


def test_the_organizations_policy_is_valid() -> None:
    assert _errors(_with(_ORG, "tickets")) == []


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        (r"(?<=CU-)\d+", "not RE2 syntax: invalid perl operator: (?<="),
        (r"(CU)-\1", "not RE2 syntax: invalid escape sequence: \\1"),
        ("CU-[0-9", "not RE2 syntax: missing ]: [0-9"),
        ("CU-[0-9]*|x?", "matches the empty string"),
        (".+", "of ordinary prose"),
        (r"(?i)[a-z ]+", "of ordinary prose"),
        (r"\w+", "of ordinary prose"),
        ("(" + "|".join(f"K{n:04d}[0-9a-f]{{12}}" for n in range(400)) + ")", "too large"),
    ],
)
def test_bad_patterns_are_refused_with_one_reason(regex: str, reason: str) -> None:
    found = check_pattern(regex)
    assert found is not None
    assert reason in found
    assert "\n" not in found


def test_a_format_is_accepted() -> None:
    assert check_pattern(r"\bCU-[0-9]{8}\b") is None
    assert check_pattern(r"(?i)ord-[a-z]{2}[0-9]{6}") is None


def test_policy_check_locates_a_bad_pattern() -> None:
    text = _with(_ORG.replace("'CU-[0-9]{8}'", r"'CU-(?=\d)[0-9]{8}'"), "tickets")
    errors = _errors(text)
    assert len(errors) == 1
    assert "redaction.patterns.customer_number.regex" in errors[0]
    assert "not RE2 syntax: invalid perl operator: (?=" in errors[0]


def test_policy_check_reports_unknown_types_profiles_and_misplaced_replacements() -> None:
    text = _with(
        _ORG.replace("detect: [EMAIL, CARD, PHONE, CUSTOMER_NUMBER]", "detect: [EMAIL, SSN]")
        .replace("default_profile: standard", "default_profile: everything")
        .replace("type: CUSTOMER_NUMBER", "type: EMAIL"),
        "nowhere",
    )
    errors = "\n".join(_errors(text))
    assert "redaction.profiles.tickets.detect[1]: unknown redaction type 'SSN'" in errors
    assert "redaction.profiles.standard.detect[12]: unknown redaction type" in errors
    assert "type 'CARD' is replaced but not detected by this profile" in errors
    assert "redaction.default_profile: unknown redaction profile 'everything'" in errors
    assert "redaction.patterns.customer_number.type: type 'EMAIL' is a built-in" in errors
    assert (
        "categories.communications.kinds.support_ticket.fields.message.redaction: "
        "unknown redaction profile 'nowhere'"
    ) in errors


def test_a_profile_on_a_field_that_is_not_free_text_is_an_error() -> None:
    old = (
        "subject_line: {type: string, description: Subject, provenance: provided, max_length: 500}"
    )
    text = _with(_ORG).replace(old, old[:-1] + ", redaction: tickets}", 1)
    errors = _errors(text)
    assert errors == [
        f"policy.yaml:{_line(text, 'redaction: tickets}')} "
        "categories.communications.kinds.question.fields.subject_line.redaction: "
        "only a free-text field (free_text: true) is redacted"
    ]


def _line(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_a_pattern_no_profile_detects_is_a_warning() -> None:
    text = _with(_ORG.replace(", CUSTOMER_NUMBER]", "]"))
    result = _check(text)
    assert result.errors == []
    assert any("no profile detects type 'CUSTOMER_NUMBER'" in str(w) for w in result.warnings)


def test_the_field_is_described_from_the_policy() -> None:
    policy = load_policy_text(_with(_ORG, "tickets"), today=TODAY)
    ticket = policy.kinds()["communications.support_ticket"].fields["message"]
    text = describe_field(policy, ticket)
    assert "payment card numbers are masked but for their last 4 characters" in text
    assert "e-mail addresses are replaced by a pseudonym keyed to the account" in text
    assert "telephone numbers are replaced by the name of their type" in text
    assert "customer numbers are masked but for their last 2 characters" in text


def test_cli_check_prints_one_line_for_a_bad_pattern(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text(_with(_ORG.replace("'CU-[0-9]{8}'", r"'(\d)\1'"), "tickets"), "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "servinfo", "policy", "check", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert any("not RE2 syntax: invalid escape sequence" in line for line in lines)
    assert "Traceback" not in done.stderr
    assert "re2.cc" not in done.stderr  # RE2's own log stays quiet


def test_the_notice_says_what_each_field_loses() -> None:
    from servinfo.policy.notice import render_notice

    policy = load_policy_text(_with(_ORG, "tickets"), today=TODAY)
    text = render_notice(policy, "md")
    assert '<a id="redaction"></a>Free text we receive' in text
    tickets = next(line for line in text.splitlines() if "In support ticket (message)" in line)
    assert "payment card numbers are masked but for their last 4 characters" in tickets
    assert "e-mail addresses are replaced by a pseudonym keyed to the account" in tickets
    assert "customer numbers are masked but for their last 2 characters" in tickets
    others = next(line for line in text.splitlines() if "In billing issue (description)" in line)
    assert "people's names are replaced by the name of their type" in others
    assert "support ticket" not in others
    html = render_notice(policy, "html")
    assert 'id="redaction-1"' in html
    assert 'data-policy-path="/redaction"' in html


def test_the_ropa_says_what_each_field_loses() -> None:
    from servinfo.policy.ropa import ropa_records, ropa_rows

    policy = load_policy_text(_with(_ORG, "tickets"), today=TODAY)
    (provide,) = [r for r in ropa_records(policy) if r.purpose == "provide"]
    by_field = {(r.kind, r.field): r for r in provide.free_text_redaction}
    ticket = by_field["communications.support_ticket", "message"]
    assert ticket.profile == "tickets"
    assert ticket.types == ("CARD", "EMAIL", "PHONE", "CUSTOMER_NUMBER")
    (row,) = [r for r in ropa_rows(policy) if r["purpose_id"] == "provide"]
    assert (
        "redaction of communications.support_ticket.message: payment card numbers are masked"
        in row["security_measures"]
    )

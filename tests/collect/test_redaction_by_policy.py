"""Ingest redacts each free-text field as the policy says: detectors, patterns, replacements."""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

import pytest
from tests.collect.world import COLLECTED, IngestWorld

from servinfo.collect.pseudonym_keys import RedactionKeys
from servinfo.collect.redaction.by_policy import REDACTED_BY_KEY, PolicyRedaction
from servinfo.collect.redaction.custom import CustomPatterns
from servinfo.collect.redaction.replacement import SubjectPseudonyms
from servinfo.policy import Policy, load_policy_text
from servinfo.policy.loading import default_policy_text

TODAY = dt.date(2026, 11, 26)
TICKET_FIELD = (
    "message: {type: text, description: The request or a reply, free_text: true, "
    "required: true, provenance: provided, max_length: 100000}"
)
ORG_REDACTION = """redaction:
  default_profile: standard
  profiles:
    standard:
      description: Everything, tagged.
      detect: [SECRET, CARD, IBAN, EMAIL, NATIONAL_ID, PASSPORT, DATE_OF_BIRTH, IPV6, IPV4,
        PHONE, ADDRESS, PERSON]
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
"""


def org_policy_text(redaction: str = ORG_REDACTION) -> str:
    """The default policy with ``redaction`` and the support ticket's message on ``tickets``."""
    text = default_policy_text()
    start = text.index("redaction:\n  default_profile")
    text = text[:start] + redaction + text[text.index("\nout_of_scope:") :]
    return text.replace(TICKET_FIELD, TICKET_FIELD[:-1] + ", redaction: tickets}")


def org_policy() -> Policy:
    return load_policy_text(org_policy_text(), today=TODAY)


def _tickets(policy: Policy) -> PolicyRedaction:
    return PolicyRedaction(policy)


def test_each_replacement_mode() -> None:
    redaction = _tickets(org_policy())
    (field,) = redaction.fields("communications.support_ticket").values()
    pseudonyms = SubjectPseudonyms(os.urandom(32))
    text = (
        "Card 4111 1111 1111 1111, mail ada@example.test, call +44 20 7946 0018, acct CU-12345678."
    )
    done = field.redact(text, pseudonyms)
    assert "****1111" in done.text  # masked: the last four, no separators, no length
    assert re.search(r"<EMAIL:[0-9a-f]{6}>", done.text)
    assert "<PHONE>" in done.text  # tagged: the profile says nothing of phones
    assert "<CUSTOMER_NUMBER>" in done.text  # the pattern's own replacement: a tag
    assert "4111" not in done.text.replace("****1111", "")
    assert done.counts == {"CARD": 1, "EMAIL": 1, "PHONE": 1, "CUSTOMER_NUMBER": 1}
    # Redacted text holds nothing to find again: redacting it changes nothing.
    again = field.redact(done.text, pseudonyms)
    assert again.text == done.text
    assert again.counts == {}


def test_a_pseudonym_without_the_subjects_key_is_the_tag() -> None:
    (field,) = _tickets(org_policy()).fields("communications.support_ticket").values()
    assert field.redact("mail ada@example.test", None).text == "mail <EMAIL>"


def test_detectors_the_profile_does_not_name_do_not_run() -> None:
    (field,) = _tickets(org_policy()).fields("communications.support_ticket").values()
    text = "server 192.0.2.7, Frau Anna Schmidt"
    assert field.redact(text, None).text == text
    feedback = _tickets(org_policy()).fields("communications.feedback")["message"]
    assert "<IPV4>" in feedback.redact(text, None).text


def test_pseudonyms_are_stable_per_subject_and_differ_across_subjects() -> None:
    ada, bob = SubjectPseudonyms(os.urandom(32)), SubjectPseudonyms(os.urandom(32))
    first = ada.pseudonym("EMAIL", "Ada.Lovelace@Example.test")
    assert re.fullmatch(r"[0-9a-f]{6}", first)
    assert ada.pseudonym("EMAIL", "ada.lovelace@example.test") == first  # one address
    assert ada.pseudonym("EMAIL", "grace@example.test") != first
    assert bob.pseudonym("EMAIL", "ada.lovelace@example.test") != first
    # Separators do not make another number; the type is part of what is keyed.
    assert ada.pseudonym("PHONE", "+44 20 7946 0018") == ada.pseudonym("PHONE", "+442079460018")
    assert ada.pseudonym("CARD", "4111111111111111") != ada.pseudonym("PHONE", "4111111111111111")
    assert "..." in repr(ada)


def test_custom_patterns_run_with_re2_and_refuse_an_unchecked_one() -> None:
    patterns = CustomPatterns([("CUSTOMER_NUMBER", "CU-[0-9]{8}"), ("ORDER", "ORD-[A-Z]{3}")])
    text = "für Jürgen: CU-00000001 und ORD-ABC, CU-1"
    found = patterns.find(text)
    assert [(text[s.start : s.end], s.type) for s in found] == [
        ("CU-00000001", "CUSTOMER_NUMBER"),
        ("ORD-ABC", "ORDER"),
    ]
    with pytest.raises(ValueError, match="not RE2 syntax"):
        CustomPatterns([("X", r"(a)\1")])


def test_a_pattern_takes_precedence_over_a_detector() -> None:
    text = org_policy_text().replace("regex: 'CU-[0-9]{8}'", r"regex: '\+44 20 7946 [0-9]{4}'")
    policy = load_policy_text(text, today=TODAY)
    (field,) = PolicyRedaction(policy).fields("communications.support_ticket").values()
    assert field.redact("call +44 20 7946 0018", None).text == "call <CUSTOMER_NUMBER>"


def test_the_fingerprint_follows_the_policy() -> None:
    default = load_policy_text(default_policy_text(), today=TODAY)
    before = PolicyRedaction(default)
    after = PolicyRedaction(org_policy())
    kind = "communications.support_ticket"
    assert before.fingerprint(kind) != after.fingerprint(kind)
    assert before.fingerprint("communications.feedback") == after.fingerprint(
        "communications.feedback"
    )
    assert PolicyRedaction(default).fingerprint(kind) == before.fingerprint(kind)
    assert before.fingerprint("account.profile") is None


# -- at ingest ----------------------------------------------------------------------------


def use_policy(world: IngestWorld, policy: Policy) -> None:
    world.deployment.policy_versions.record(policy.version, policy.model_dump_json())
    world.deployment.runtime.refresh(force=True)


def ticket(subject: str, message: str, ticket_id: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "kind": "communications.support_ticket",
        "collected_at": COLLECTED,
        "fields": {"ticket_id": ticket_id, "message": message},
    }


def _messages(world: IngestWorld, subject: str) -> dict[str, dict[str, Any]]:
    return {
        r["fields"]["ticket_id"]: r["fields"]
        for r in world.records(subject)
        if r["kind"] == "communications.support_ticket"
    }


def test_ingest_pseudonymizes_per_subject(world: IngestWorld) -> None:
    use_policy(world, org_policy())
    for subject, number, message in (
        ("sub-ada", "T1", "Please write to ada@example.test about CU-12345678."),
        ("sub-ada", "T2", "Again: ADA@example.test, card 5555 5555 5555 4444."),
        ("sub-bob", "T3", "Please write to ada@example.test."),
    ):
        answer = world.post("support", ticket(subject, message, number))
        assert answer.status_code == 201, answer.text
    ada = _messages(world, "sub-ada")
    bob = _messages(world, "sub-bob")
    first = re.search(r"<EMAIL:([0-9a-f]{6})>", ada["T1"]["message"])
    second = re.search(r"<EMAIL:([0-9a-f]{6})>", ada["T2"]["message"])
    other = re.search(r"<EMAIL:([0-9a-f]{6})>", bob["T3"]["message"])
    assert first is not None
    assert second is not None
    assert other is not None
    assert first.group(1) == second.group(1)  # two tickets, one address
    assert other.group(1) != first.group(1)  # another subject: unlinkable
    assert "<CUSTOMER_NUMBER>" in ada["T1"]["message"]
    assert "****4444" in ada["T2"]["message"]
    assert "example.test" not in ada["T1"]["message"] + ada["T2"]["message"]
    fingerprint = PolicyRedaction(org_policy()).fingerprint("communications.support_ticket")
    assert ada["T1"][REDACTED_BY_KEY] == fingerprint


def test_erasing_the_salt_destroys_the_key(world: IngestWorld) -> None:
    deployment = world.deployment
    keys = RedactionKeys(deployment.directory.engine, deployment.keyring)
    made = keys.for_subjects(["sub-ada"], live=["sub-ada"])
    pseudonym = made["sub-ada"].pseudonym("EMAIL", "ada@example.test")
    again = keys.for_subjects(["sub-ada"], live=[])["sub-ada"]
    assert again.pseudonym("EMAIL", "ada@example.test") == pseudonym
    assert deployment.audit.forget_subject("sub-ada")
    # Gone, and not made again for a subject that is not live.
    assert keys.for_subjects(["sub-ada"], live=[]) == {}
    fresh = keys.for_subjects(["sub-ada"], live=["sub-ada"])["sub-ada"]
    assert fresh.pseudonym("EMAIL", "ada@example.test") != pseudonym

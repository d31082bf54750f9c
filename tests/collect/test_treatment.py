"""Telemetry treatment and free-text redaction on arrival."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from tests.collect.world import IngestWorld

from servinfo.access.views import IPV4_PREFIX, IPV6_PREFIX, truncate_ip
from servinfo.collect.telemetry import TELEMETRY_PSEUDONYM, TelemetryTreatment
from servinfo.crypto import Keyring, LocalMasterKeyWrapper, load_master_key
from servinfo.deployment import open_deployment


class _Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def _keyring(deployment_dir: Path) -> Keyring:
    with open_deployment(deployment_dir, {}) as deployment:
        settings = deployment.settings
    master = load_master_key({}, settings.master_key_file)
    return Keyring.open(settings.keyring_file, LocalMasterKeyWrapper(master))


def test_pseudonyms_are_keyed_stable_within_a_period_and_rotate(deployment_dir: Path) -> None:
    clock = _Clock()
    keyring = _keyring(deployment_dir)
    treatment = TelemetryTreatment(keyring, period=dt.timedelta(days=30), clock=clock)

    def treat(value: str) -> object:
        fields: dict[str, object] = {"ip_address": value}
        treatment.apply(fields, (), ("ip_address",))
        return fields["ip_address"]

    first = treat("203.0.113.7")
    assert isinstance(first, str)
    assert first.startswith("pseudonym:")
    assert "203.0.113" not in first
    assert treat("203.0.113.7") == first
    assert treat("203.0.113.8") != first
    assert treatment.key_id == f"{TELEMETRY_PSEUDONYM}:v1"
    clock.now += dt.timedelta(days=31)
    assert treat("203.0.113.7") != first
    assert treatment.key_id == f"{TELEMETRY_PSEUDONYM}:v2"
    # Another worker's copy of the keyring picks the new version up instead of rotating again.
    other = TelemetryTreatment(_keyring(deployment_dir), clock=clock)
    assert other.key_id == f"{TELEMETRY_PSEUDONYM}:v2"


def test_truncation_keeps_the_network(deployment_dir: Path) -> None:
    treatment = TelemetryTreatment(_keyring(deployment_dir))
    fields: dict[str, object] = {"ip_address": "198.51.100.200", "user_agent": "curl/8"}
    treatment.apply(fields, ("ip_address",), ())
    assert fields == {"ip_address": "198.51.100.0/24", "user_agent": "curl/8"}


def test_free_text_is_redacted_and_counted(world: IngestWorld) -> None:
    report = {
        "subject": "sub-ada",
        "kind": "telemetry.crash_report",
        "collected_at": "2026-11-20T08:15:02Z",
        "fields": {
            "component": "billing-api",
            "log_excerpt": "user ada@example.test from 192.0.2.7 failed; mail ada@example.test",
        },
    }
    answer = world.post("platform", report)
    assert answer.status_code == 201, answer.text
    assert answer.json()["redactions"] == {"EMAIL": 2, "IPV4": 1}
    (record,) = world.records("sub-ada")
    assert "ada@example.test" not in record["fields"]["log_excerpt"]
    assert record["fields"]["_redactions"] == {"EMAIL": 2, "IPV4": 1}


@given(st.ip_addresses())
def test_truncation_names_the_same_network_as_the_standard_library(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    expected = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    assert truncate_ip(str(address)) == expected


def test_truncation_of_text_that_is_no_address() -> None:
    assert truncate_ip("203.0.113") == "<invalid address>"

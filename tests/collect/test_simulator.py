"""``servinfo simulate``: deterministic, valid under the policy, and realistic where it matters."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import ipaddress
import itertools
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import pytest
import yaml
from typer.testing import CliRunner

from servinfo.cli.app import app
from servinfo.client import BatchSummary
from servinfo.collect import simulator
from servinfo.collect.simulator import RecordShaper, SimulationError, simulate, write_ndjson
from servinfo.collect.simulator.sending import IngestClient, send
from servinfo.policy import Policy, load_policy, load_policy_text
from servinfo.policy.loading import default_policy_text

Obj = dict[str, Any]

#: Continents of the countries the simulator attributes addresses to.
CONTINENT = {
    **dict.fromkeys(("DE", "FR", "NL", "AT", "ES", "IT", "PL", "SE", "IE", "GB", "CH", "RO"), "eu"),
    **dict.fromkeys(("US", "CA"), "na"),
    **dict.fromkeys(("SG", "JP", "IN", "VN", "KR"), "asia"),
    **dict.fromkeys(("AU", "NZ"), "oceania"),
    **dict.fromkeys(("BR", "AR", "CL"), "sa"),
}
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_DIGITS = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def stream(policy: Policy) -> list[Obj]:
    """The demo's default run: 20 customers, 7 days, seed 1."""
    return list(simulate(policy, 20, 7, 1))


def _ndjson(objects: Iterable[Obj]) -> bytes:
    buffer = io.StringIO()
    write_ndjson(objects, buffer)
    return buffer.getvalue().encode("utf-8")


def _records(objects: Iterable[Obj], kind: str | None = None) -> list[Obj]:
    return [o for o in objects if o.get("type") == "record" and (kind is None or o["kind"] == kind)]


def _at(record: Obj) -> dt.datetime:
    return dt.datetime.fromisoformat(record["collected_at"])


def _problems(policy: Policy, record: Obj) -> list[str]:
    """Everything wrong with ``record`` under ``policy``, checked independently of the simulator."""
    kinds = policy.kinds()
    kind = kinds.get(record["kind"])
    if kind is None:
        return [f"unknown kind {record['kind']}"]
    problems = []
    if record["kind"] not in policy.services[record["source"]].kinds:
        problems.append(f"{record['source']} does not report {record['kind']}")
    fields: dict[str, Any] = record["fields"]
    for name, declared in kind.fields.items():
        if declared.required and name not in fields:
            problems.append(f"{record['kind']}.{name} required")
    for name, value in fields.items():
        spec = kind.fields.get(name)
        where = f"{record['kind']}.{name}"
        if spec is None:
            problems.append(f"{where} undeclared")
        elif value is None:
            problems.append(f"{where} null")
        elif spec.type == "enum" and value not in (spec.values or []):
            problems.append(f"{where}: {value!r} not in {spec.values}")
        elif spec.type in ("string", "text") and not isinstance(value, str):
            problems.append(f"{where}: not a string")
        elif spec.type == "boolean" and not isinstance(value, bool):
            problems.append(f"{where}: not a boolean")
        elif spec.type == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{where}: not an integer")
        elif spec.type == "ip_address":
            ipaddress.ip_address(value)
        limit = spec.max_length if spec is not None else None
        if isinstance(value, str) and limit is not None and len(value) > limit:
            problems.append(f"{where}: longer than {limit}")
    return problems


# --- determinism ---------------------------------------------------------------------


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(policy: Policy) -> None:
    first = _ndjson(simulate(policy, 6, 3, 42))
    assert first == _ndjson(simulate(policy, 6, 3, 42))
    assert first != _ndjson(simulate(policy, 6, 3, 43))
    until = dt.date(2026, 3, 31)
    assert _ndjson(simulate(policy, 6, 3, 42, until)) != first
    assert b'"collected_at":"2026-03-31T' in _ndjson(simulate(policy, 6, 3, 42, until))


def test_the_days_end_on_a_date_fixed_by_the_seed_or_given(stream: list[Obj]) -> None:
    last = simulator.default_until(1)
    times = [_at(r) for r in _records(stream)]
    assert min(times).date() == last - dt.timedelta(days=6)
    assert max(times).date() == last
    assert all(_TIME.match(r["collected_at"]) for r in _records(stream))


# --- validity ------------------------------------------------------------------------


def test_every_record_is_valid_under_the_policy(policy: Policy, stream: list[Obj]) -> None:
    problems = Counter(p for r in _records(stream) for p in _problems(policy, r))
    assert not problems, problems.most_common(5)
    assert {r["kind"] for r in _records(stream)} == set(policy.kinds())


def test_every_object_passes_the_ingest_schemas(policy: Policy, stream: list[Obj]) -> None:
    try:
        schemas = importlib.import_module("servinfo.collect.schemas")
        objects = importlib.import_module("servinfo.collect.objects")
    except ModuleNotFoundError:  # pragma: no cover - the ingest engineer's modules
        pytest.skip("servinfo.collect.schemas is not there")
    kinds = schemas.compile_kinds(policy)
    markers = [m for scope in policy.out_of_scope.values() for m in scope.markers]
    for obj in stream:
        objects.parse_object(obj, markers)
        if obj["type"] == "record":
            _values, dropped = kinds[obj["kind"]].validate(obj["fields"])
            assert dropped == 0


def test_a_changed_policy_changes_the_data_and_never_makes_it_invalid() -> None:
    document = yaml.safe_load(default_policy_text())
    kinds = document["categories"]["settings"]["kinds"]
    # A new required field, an enum value gone, and a kind no service reports any more.
    kinds["resource"]["fields"]["cost_centre"] = {
        "type": "string",
        "description": "Cost centre",
        "required": True,
        "provenance": "provided",
    }
    event = document["categories"]["telemetry"]["kinds"]["auth_event"]["fields"]["event"]
    event["values"] = [v for v in event["values"] if v != "logout"]
    platform = document["services"]["platform"]["kinds"]
    platform.remove("payments.credit_check")
    changed = load_policy_text(yaml.safe_dump(document, sort_keys=False))
    shaper = RecordShaper(changed)
    records = _records(simulate(changed, 8, 3, 5, shaper=shaper))
    problems = Counter(p for r in records for p in _problems(changed, r))
    assert not problems, problems.most_common(5)
    assert all("cost_centre" in r["fields"] for r in records if r["kind"] == "settings.resource")
    assert not any(
        r["fields"]["event"] == "logout" for r in records if r["kind"].endswith("auth_event")
    )
    assert not any(r["kind"] == "payments.credit_check" for r in records)
    assert shaper.skipped["payments.credit_check"] >= 1


def test_bad_arguments_are_refused_at_once(policy: Policy) -> None:
    with pytest.raises(SimulationError, match="--customers"):
        simulate(policy, 0, 1, 1)
    with pytest.raises(SimulationError, match="--days"):
        simulate(policy, 1, 0, 1)
    with pytest.raises(SimulationError, match="--intensity"):
        simulate(policy, 1, 1, 1, intensity=0)


# --- order ---------------------------------------------------------------------------


def test_organizations_then_subjects_then_records_in_time_order(stream: list[Obj]) -> None:
    types = [o["type"] for o in stream]
    first_record = types.index("record")
    assert types[:first_record] == sorted(
        types[:first_record], key=("organization", "subject").index
    )
    organizations: set[str] = set()
    subjects: set[str] = set()
    previous = ""
    for obj in stream:
        if obj["type"] == "organization":
            assert obj["parent"] is None or obj["parent"] in organizations
            organizations.add(obj["id"])
        elif obj["type"] == "subject":
            assert obj["org"] in organizations
            subjects.add(obj["id"])
        else:
            assert obj["subject"] in subjects, "a record before its subject"
            assert obj["collected_at"] >= previous
            previous = obj["collected_at"]


# --- the world -----------------------------------------------------------------------


def test_partners_have_their_own_customers_beside_direct_customers(stream: list[Obj]) -> None:
    orgs = [o for o in stream if o["type"] == "organization"]
    children: dict[str, int] = Counter(o["parent"] for o in orgs if o["parent"] is not None)
    assert children
    assert all(1 <= n <= 5 for n in children.values())
    direct = [o for o in orgs if o["parent"] is None and o["id"] not in children]
    assert len(direct) + sum(children.values()) == 20
    assert direct


def test_every_region_and_several_jurisdictions(policy: Policy, stream: list[Obj]) -> None:
    orgs = {o["id"]: o for o in stream if o["type"] == "organization"}
    assert {o["home_region"] for o in orgs.values()} == set(policy.regions)
    subjects = [o for o in stream if o["type"] == "subject"]
    jurisdictions = {s["jurisdiction"] for s in subjects}
    assert len(jurisdictions) >= 8
    regimes = {policy.regime_for(j) for j in jurisdictions}
    assert regimes == set(policy.regimes)
    away = [
        s
        for s in subjects
        if s["jurisdiction"].split("-")[0] != policy.regions[orgs[s["org"]]["home_region"]].country
    ]
    assert 0 < len(away) < len(subjects) / 2
    assert all(not re.search("@", s["id"]) and s["id"].startswith("sub-") for s in subjects)


def test_subjects_sign_up_and_move_during_the_days(stream: list[Obj]) -> None:
    first_record = next(i for i, o in enumerate(stream) if o["type"] == "record")
    later = [o for o in stream[first_record:] if o["type"] == "subject"]
    known = {o["id"]: o["jurisdiction"] for o in stream[:first_record] if o["type"] == "subject"}
    moves = [o for o in later if o["id"] in known and o["jurisdiction"] != known[o["id"]]]
    sign_ups = [o for o in later if o["id"] not in known]
    assert moves
    assert sign_ups


def test_volume_follows_the_guidance_and_the_intensity(policy: Policy, stream: list[Obj]) -> None:
    per_customer_day = len(_records(stream)) / (20 * 7)
    assert 50 <= per_customer_day <= 200
    quiet = len(_records(simulate(policy, 20, 7, 1, intensity=0.3)))
    assert quiet < len(_records(stream)) * 0.6


# --- what the security and billing purposes must find ----------------------------------


def test_a_credential_stuffing_burst(stream: list[Obj]) -> None:
    failures: dict[str, list[Obj]] = defaultdict(list)
    for record in _records(stream, "telemetry.auth_event"):
        if record["fields"]["event"] == "login_failure":
            failures[record["subject"]].append(record)

    def burst(events: list[Obj]) -> bool:
        for i, first in enumerate(events):
            window = [e for e in events[i:] if _at(e) - _at(first) <= dt.timedelta(minutes=5)]
            if len(window) >= 10 and len({e["fields"]["ip_address"] for e in window}) >= 5:
                return True
        return False

    assert any(burst(events) for events in failures.values())


def test_an_impossible_travel(stream: list[Obj]) -> None:
    successes: dict[str, list[Obj]] = defaultdict(list)
    for record in _records(stream, "telemetry.auth_event"):
        if record["fields"]["event"] == "login_success" and "country" in record["fields"]:
            successes[record["subject"]].append(record)
    found = False
    for events in successes.values():
        for first, second in itertools.pairwise(events):
            continents = {CONTINENT.get(e["fields"]["country"]) for e in (first, second)}
            close = _at(second) - _at(first) <= dt.timedelta(minutes=30)
            found |= close and None not in continents and len(continents) == 2
    assert found


def test_logins_carry_addresses_and_user_agents(stream: list[Obj]) -> None:
    events = _records(stream, "telemetry.auth_event")
    versions = {ipaddress.ip_address(e["fields"]["ip_address"]).version for e in events}
    assert versions == {4, 6}
    assert all(e["fields"]["user_agent"] for e in events)
    assert {e["fields"].get("method") for e in events} >= {"password", "mfa", "api_key"}


def test_money_matters_include_failures_and_credit_decisions(stream: list[Obj]) -> None:
    payments = _records(stream, "payments.payment")
    failed = [p for p in payments if p["fields"]["status"] == "failed"]
    assert failed
    assert all(p["fields"].get("failure_reason") for p in failed)
    assert any(p["fields"]["status"] == "succeeded" for p in payments)
    decisions = {c["fields"]["decision"] for c in _records(stream, "payments.credit_check")}
    assert "decline" in decisions
    assert _records(stream, "payments.charge")
    assert _records(stream, "payments.billing_issue")


def test_security_settings_vary(stream: list[Obj]) -> None:
    settings = _records(stream, "settings.security")
    assert {s["fields"]["mfa_enabled"] for s in settings} == {True, False}
    resources = _records(stream, "settings.resource")
    assert {r["fields"]["public_endpoint"] for r in resources} == {True, False}


def test_crash_reports_sometimes_carry_personal_data(stream: list[Obj]) -> None:
    if not simulator._text.textgen_available():  # pragma: no cover - textgen ships with collect
        pytest.skip("servinfo.collect.textgen is not there: free text carries no PII")
    crashes = _records(stream, "telemetry.crash_report")

    def personal(record: Obj) -> bool:
        text = "\n".join(str(v) for v in record["fields"].values())
        return bool(_EMAIL.search(text) or _DIGITS.search(text) or "eyJ" in text)

    with_pii = [c for c in crashes if personal(c)]
    assert 0 < len(with_pii) < len(crashes)


# --- sending -------------------------------------------------------------------------


class FakeClient:
    """Stands in for servinfo.client.Client: remembers what each service sent."""

    sent: ClassVar[dict[str, list[Obj]]] = {}

    def __init__(self, url: str, token: str, *, verify: Any = True) -> None:
        self.service = token.removeprefix("token-")
        assert verify == "/ca.pem"

    def __enter__(self) -> IngestClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def send_many(self, items: Iterable[object]) -> BatchSummary:
        batch = [json.loads(item) for item in items if isinstance(item, bytes)]
        FakeClient.sent.setdefault(self.service, []).extend(batch)
        return BatchSummary(lines=len(batch), accepted=len(batch))


def test_each_object_is_sent_by_its_own_service(policy: Policy) -> None:
    objects = list(simulate(policy, 4, 2, 9))
    tokens = {s: f"token-{s}" for s in policy.services}
    FakeClient.sent = {}
    result = send(objects, "https://x", tokens, "/ca.pem", FakeClient, chunk=300)
    assert sum(result.sent.values()) == len(objects)
    assert result.accepted == result.sent
    assert not result.rejected
    for service, batch in FakeClient.sent.items():
        for obj in batch:
            if obj["type"] == "record":
                assert obj["source"] == service
            else:
                assert service == "identity"
    registered: set[str] = set()
    for obj in FakeClient.sent["identity"]:
        if obj["type"] == "subject":
            registered.add(obj["id"])
    assert {r["subject"] for r in _records(objects)} <= registered


def test_sending_without_every_token_sends_nothing(policy: Policy) -> None:
    FakeClient.sent = {}
    tokens: dict[str, str | None] = {"identity": "token-identity", "platform": None}
    with pytest.raises(SimulationError, match="--token-platform"):
        send(simulate(policy, 2, 1, 1), "https://x", tokens, "/ca.pem", FakeClient)
    assert FakeClient.sent == {}


# --- the command ---------------------------------------------------------------------


runner = CliRunner()


def _servinfo(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "servinfo", *args], capture_output=True, check=False, timeout=120
    )


def test_the_command_writes_valid_ndjson(policy: Policy, tmp_path: Path) -> None:
    out = tmp_path / "demo" / "sim.ndjson"
    args = ("simulate", "--customers", "3", "--days", "2", "--seed", "7", "--until", "2026-11-20")
    done = _servinfo(*args, "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = out.read_bytes().splitlines()
    objects = [json.loads(line) for line in lines]
    assert objects[0]["type"] == "organization"
    assert not Counter(p for r in _records(objects) for p in _problems(policy, r))
    assert max(r["collected_at"] for r in _records(objects)).startswith("2026-11-20")
    assert b"records" in done.stderr
    assert b"telemetry.auth_event" in done.stderr
    # The same run on stdout gives the same bytes.
    piped = runner.invoke(app, [*args, "--out", "-"])
    assert piped.exit_code == 0, piped.output
    assert piped.stdout_bytes == out.read_bytes()


@pytest.mark.parametrize(
    "destination",
    [[], ["--out", "-", "--ingest", "https://127.0.0.1:8443"]],
    ids=["neither", "both"],
)
def test_the_command_wants_exactly_one_destination(destination: list[str]) -> None:
    result = runner.invoke(app, ["simulate", "--customers", "1", "--days", "1", *destination])
    assert isinstance(result.exception, SimulationError)
    assert "exactly one of --out" in str(result.exception)


def test_ingest_needs_every_service_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("PLATFORM", "IDENTITY", "SUPPORT"):
        monkeypatch.delenv(f"SERVINFO_TOKEN_{service}", raising=False)
    args = ["simulate", "--ingest", "https://127.0.0.1:8443", "--token-identity", "t"]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, SimulationError)
    assert "--token-platform" in str(result.exception)


def test_the_public_api() -> None:
    assert simulator.__all__ == sorted(simulator.__all__)
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None

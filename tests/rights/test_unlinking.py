"""The attacker with a copy of the deployment: after an erasure, nothing links back to the person.

The test plays someone who holds every file of the data directory after an
erasure — and the master key beside it (in this local deployment it sits in
the data directory), so the keyring opens. It reads every row of every table of
the control and region databases and every other file, decodes the audit
entries, and cuts every value into *tokens* (strings, the strings inside JSON,
ids and hex runs inside text). Two tokens in one row, entry or file are linked.
With the keyring it can also recompute, for each subject salt still stored, the
subject's pseudonym and the reference of every token under the subject's
reference key: each such recomputation is one more linking row.

*Vocabulary* links nothing: a token found in the rows of the control subject
(purposes, actions, staff names, the organization, policy versions …) or in more
than :data:`_VOCABULARY_ROWS` rows. The person's identifiers are checked not to be
vocabulary, so the search cannot pass by excluding them.

The same search run before the erasure must find the person from their
pseudonym (it does: the salt is still there); after it, from the old pseudonym
and from every entry of format 2 written before the erasure, it must reach
neither the subject id, the e-mail or principal names, the new pseudonym, nor a
kept record id. Times are not tokens: the search does not cover correlation by
time (an entry's time and a case file's), which docs/rights.md states.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, inspect, select, text
from tests.rights.world import NOW, World, build_world, record
from tests.support import PostgresDatabases

from servinfo.audit.entries import Action, reference
from servinfo.crypto import PSEUDONYM, Pseudonymizer
from servinfo.jobs import Worker
from servinfo.jobs.kinds import REQUEST_PURGE, deployment_registry
from servinfo.rights.drp.models import DrpRequestRow
from servinfo.rights.entries import CLOSED_STATES, OPEN_STATES
from servinfo.rights.notifier import NOTICE_KINDS
from servinfo.rights.unlinking import ERASED_ACTOR
from servinfo.store.erasure import ERASED_SUBJECT

#: A token in more rows than this is vocabulary (an action, a purpose, a region …).
_VOCABULARY_ROWS = 60
_EMAIL = "ada.lovelace@example.test"
_CONTROL_EMAIL = "bob.control@example.test"
_HEX = re.compile(r"[0-9a-f]{16,}")
_ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
_MAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?([+-]\d{2}:?\d{2}|Z)?")


@dataclass
class Copy:
    """Every row of a copy of the data directory, as sets of tokens."""

    rows: list[frozenset[str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    #: Rows that are audit entries of format 2, by sequence number.
    v2_entries: dict[int, int] = field(default_factory=dict)

    def add(self, label: str, tokens: set[str]) -> int:
        self.rows.append(frozenset(tokens))
        self.labels.append(label)
        return len(self.rows) - 1

    def index(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for number, row in enumerate(self.rows):
            for token in row:
                found[token].append(number)
        return found


def _tokens(value: Any) -> Iterator[str]:
    if value is None or isinstance(value, bool | int | float | dt.date | dt.datetime):
        return  # counts, flags, versions, times: not identifiers
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        try:
            yield from _tokens(raw.decode("utf-8"))
        except UnicodeDecodeError:
            if len(raw) <= 64:  # digests, salts, pseudonyms as bytes: their hex
                yield raw.hex()
        return
    if isinstance(value, dict):  # keys too: a mapping may be keyed by identifiers
        for key, inner in value.items():
            yield from _tokens(key)
            yield from _tokens(inner)
        return
    if isinstance(value, list):
        for inner in value:
            yield from _tokens(inner)
        return
    text = str(value)
    if text[:1] in "{[":
        try:
            decoded = json.loads(text)
        except ValueError:
            pass
        else:
            yield from _tokens(decoded)
            return
    if _TIME.fullmatch(text.strip()) or len(text) < 2:
        return
    if len(text) <= 256:
        yield text
    for pattern in (_HEX, _ULID, _MAIL):
        yield from pattern.findall(text)


def _databases(world: World) -> dict[str, str]:
    """The deployment's databases by name, as URLs an attacker's own client would open."""
    engines = {"control": world.deployment.control, **world.deployment.regions}
    return {name: e.url.render_as_string(hide_password=False) for name, e in engines.items()}


def _copy_of(world: World) -> Copy:
    """Read the deployment as an attacker would: every table of every database, every file."""
    copy = Copy()
    salts: list[tuple[str, bytes]] = []
    for name, url in _databases(world).items():
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                # A partition's rows are read through its parent (records, on PostgreSQL).
                partitions = (
                    set(
                        connection.scalars(
                            text("SELECT relname FROM pg_class WHERE relispartition")
                        )
                    )
                    if connection.dialect.name == "postgresql"
                    else set()
                )
                for table in inspect(connection).get_table_names():
                    if table in partitions:
                        continue
                    result = connection.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
                    for row in result.mappings():
                        if table == "audit_entries":
                            _add_entry(copy, row["seq"], bytes(row["entry"]))
                            continue
                        if table == "subject_salts":
                            salts.append((row["subject_id"], bytes(row["salt"])))
                        copy.add(f"{name}:{table}", set(_tokens(list(row.values()))))
        finally:
            engine.dispose()
    for path in sorted(p for p in world.data_dir.rglob("*") if p.is_file()):
        if path.suffix == ".db" or path.name.endswith(("-wal", "-shm", "-journal")):
            continue  # the databases, read above through SQLite itself
        copy.add(f"file {path.name}", set(_tokens(path.read_bytes())))
    _recompute_with_the_keyring(world, copy, salts)
    return copy


def _add_entry(copy: Copy, seq: int, stored: bytes) -> None:
    entry = json.loads(stored)
    number = copy.add(f"audit entry {seq}", set(_tokens(entry)))
    if entry.get("v") == 2:
        copy.v2_entries[seq] = number


def _recompute_with_the_keyring(world: World, copy: Copy, salts: list[tuple[str, bytes]]) -> None:
    """The master key opens the keyring: each stored salt gives its subject's pseudonym and
    the references of every token under the subject's reference key."""
    pseudonymizer = Pseudonymizer(world.deployment.keyring.current(PSEUDONYM))
    universe = {token for row in copy.rows for token in row}
    for subject_id, salt in salts:
        pseudonym = pseudonymizer.pseudonym(subject_id, salt)
        copy.add(f"recomputed pseudonym of {subject_id}", {subject_id, pseudonym})
        key = pseudonymizer.reference_key(subject_id, salt)
        for token in universe:
            ref = reference(key, token)
            if ref in universe:
                copy.add(f"recomputed reference under {subject_id}'s key", {token, ref})


def _reachable(copy: Copy, start_rows: Iterable[int], vocabulary: set[str]) -> dict[str, list[str]]:
    """Tokens reachable from the start rows through rows sharing a non-vocabulary token,
    each with the labels of the rows of one path to it."""
    return _search(copy, start_rows, vocabulary)[0]


def _search(
    copy: Copy, start_rows: Iterable[int], vocabulary: set[str]
) -> tuple[dict[str, list[str]], set[int]]:
    """:func:`_reachable`, and the rows it went through."""
    index = copy.index()
    paths: dict[str, list[str]] = {}
    frontier: list[tuple[int, list[str]]] = [(r, [copy.labels[r]]) for r in start_rows]
    seen_rows = {r for r, _ in frontier}
    while frontier:
        row, path = frontier.pop()
        for token in copy.rows[row] - vocabulary:
            if token in paths:
                continue
            paths[token] = path
            for other in index[token]:
                if other not in seen_rows:
                    seen_rows.add(other)
                    frontier.append((other, [*path, copy.labels[other]]))
    return paths, seen_rows


def _vocabulary(copy: Copy, control: set[str], protected: set[str]) -> set[str]:
    """The words that link nothing: see the module docstring, and the code's own names."""
    index = copy.index()
    control_rows = {r for token in control for r in index.get(token, [])}
    # The policy in force is published: its ids and texts are everyone's.
    policy_rows = {r for r, label in enumerate(copy.labels) if label.endswith(":policy_versions")}
    vocabulary = {token for r in control_rows | policy_rows for token in copy.rows[r]}
    # The code's own names: states, notice kinds, actions, and what stands for an
    # erased subject (the same for all of them).
    vocabulary |= {*OPEN_STATES, *CLOSED_STATES, *NOTICE_KINDS, *(a.value for a in Action)}
    vocabulary |= {ERASED_SUBJECT, ERASED_ACTOR}
    leaked = vocabulary & protected
    assert not leaked, f"identifiers of the person counted as vocabulary: {sorted(leaked)}"
    # Frequent tokens too, but never the person's: their pseudonym is in many entries.
    frequent = {token for token, rows in index.items() if len(rows) > _VOCABULARY_ROWS}
    return (vocabulary | frequent) - control - protected


@dataclass
class Lives:
    old_pseudonym: str
    principals: set[str]
    control: set[str]


def _live(world: World, subject: str, email: str, processor: str) -> None:
    """Give ``subject`` a history: reads by staff, by itself and by a processor (a
    disclosure), a consent recorded by staff, an objection and an access request opened
    and verified through its own principal and processed by staff.

    Ledger changes name staff as their actor: only principals with ``manage_ledgers``
    change ledgers directly; a subject does it through a request.
    """
    deployment = world.deployment
    reads = deployment.reads
    principals = deployment.principals
    rights = world.rights
    own = principals.get(email)
    reads.read_subject(principals.get("support-eu"), "provide", subject)
    reads.read_subject(own, "provide", subject)
    deployment.sharing.to_processor(principals.get(processor), subject, "provide", ["account"])
    deployment.ledgers.give_consent(
        subject,
        recipient="survey-partner",
        notice_version=deployment.policy.version,
        actor="dpo",
    )
    for request_type, parameters in (("objection", {"purpose": "improve_use"}), ("access", {})):
        opened = rights.open(
            request_type, subject, channel="api", actor=email, parameters=parameters, now=NOW
        )
        rights.verify_with_principal(opened.request_id, own, now=NOW)
        rights.process(opened.request_id, actor="dpo", now=NOW)


def _setup(world: World) -> Lives:
    service = world.deployment.principal_service
    for name, subject in ((_EMAIL, "subj-de"), (_CONTROL_EMAIL, "subj-fr")):
        service.add(
            name, kind="subject", role="account_holder", region=None, binding=subject, actor="dpo"
        )
    service.add(
        "relay-mail-api",
        kind="processor",
        role="processor",
        region="eu",
        binding="relay_mail",
        actor="admin",
    )
    # The control subject holds the same kinds, the kept ones too, so that what is
    # vocabulary (kinds, reasons, field names) shows in its rows as well.
    writer = world.deployment.writer
    control_records = [
        writer.put(
            record("payments.charge", {"invoice_id": "INV-9", "amount": 3.0, "currency": "EUR"},
                   subject="subj-fr")
        ),
        writer.put(
            record("payments.billing_details", {"billing_name": "Bob Control",
                   "billing_email": "billing-bob@example.test"}, subject="subj-fr")
        ),
    ]  # fmt: skip
    _live(world, "subj-de", _EMAIL, "relay-mail-api")
    _live(world, "subj-fr", _CONTROL_EMAIL, "relay-mail-api")
    world.deployment.rights._flush_audit()
    pseudonymizer = Pseudonymizer(world.deployment.keyring.current(PSEUDONYM))
    salts = _salts(world)
    return Lives(
        old_pseudonym=pseudonymizer.pseudonym("subj-de", salts["subj-de"]),
        principals={_EMAIL, "ada"},
        control={
            "subj-fr",
            _CONTROL_EMAIL,
            "bob",
            pseudonymizer.pseudonym("subj-fr", salts["subj-fr"]),
            world.record_ids["other"],
            *control_records,
        },
    )


def _salts(world: World) -> dict[str, bytes]:
    with world.deployment.control.connect() as connection:
        rows = connection.exec_driver_sql("SELECT subject_id, salt FROM subject_salts").all()
    return {subject: bytes(salt) for subject, salt in rows}


def _erase(world: World, subject: str, email: str) -> None:
    """An erasure asked for through the subject's own principal, processed by staff."""
    opened = world.rights.open("erasure", subject, channel="api", actor=email, now=NOW)
    principal = world.deployment.principals.get(email)
    world.rights.verify_with_principal(opened.request_id, principal, now=NOW)
    world.rights.process(opened.request_id, actor="dpo", now=NOW)


def _erase_both(world: World) -> int:
    """Erase the person; read a kept record of theirs later under a legal obligation (a new
    salt, a new pseudonym); erase the control subject too, so that what an erasure writes
    is vocabulary as well. Then the mailer delivers every message and the next day's
    ``request_purge`` runs. The last entry's seq once the person's erasure is done."""
    _erase(world, "subj-de", _EMAIL)
    erased_by = _last_seq(world)
    world.deployment.reads.read_subject(world.deployment.principals.get("dpo"), "legal", "subj-de")
    _erase(world, "subj-fr", _CONTROL_EMAIL)
    for notice in world.notices(pending_only=True):
        world.outbox.mark_sent(notice.notice_id, now=NOW)
    _run_jobs(world, NOW + dt.timedelta(days=1))
    return erased_by


def _settle(world: World) -> None:
    """Flush what is buffered and close every connection: the files are all there is."""
    deployment = world.deployment
    deployment.rights._flush_audit()
    deployment.control.dispose()
    for engine in deployment.regions.values():
        engine.dispose()


def _describe(found: dict[str, list[str]], targets: set[str]) -> str:
    return "; ".join(f"{t!r} via {' -> '.join(found[t])}" for t in sorted(targets & set(found)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url_template(request: pytest.FixtureRequest) -> str | None:
    """Where the deployment keeps its databases: SQLite files, or PostgreSQL databases."""
    if request.param == "sqlite":
        return None
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.url_template


def test_before_the_erasure_the_search_finds_the_person(
    tmp_path: Path, url_template: str | None
) -> None:
    with build_world(tmp_path, url_template) as world:
        lives = _setup(world)
        _settle(world)
        copy = _copy_of(world)
        person = {"subj-de", *lives.principals}
        vocabulary = _vocabulary(copy, lives.control, {lives.old_pseudonym, *person})
        index = copy.index()
        found = _reachable(copy, index[lives.old_pseudonym], vocabulary)
        # Not vacuous: the same search that must come back empty after the erasure
        # joins the pseudonym to the subject id and to its principal's e-mail now.
        assert {"subj-de", _EMAIL} <= set(found), sorted(found)[:40]


#: Rows that may still be tied to the person after the erasure (docs/rights.md): the
#: directory's row, the kept records with their keys and blind indexes, the ledger
#: version counter, the new salt (and what the keyring recomputes from it) and the
#: audit log's index of the entries under the new pseudonym.
_KEPT_WITH_THE_PERSON = (
    ":subjects",
    ":records",
    ":data_keys",
    ":blind_index",
    ":ledger_versions",
    ":subject_salts",
    ":audit_subject_entries",
)


def _attack(world: World, lives: Lives, v2_before: int, erased_by: int) -> list[str]:
    """What the attacker finds after the erasure that it must not; empty if nothing."""
    kept = {world.record_ids["invoice"], world.record_ids["billing"]}
    pseudonymizer = Pseudonymizer(world.deployment.keyring.current(PSEUDONYM))
    new_pseudonym = pseudonymizer.pseudonym("subj-de", _salts(world)["subj-de"])
    assert new_pseudonym != lives.old_pseudonym
    _settle(world)
    copy = _copy_of(world)
    targets = {"subj-de", *lives.principals, new_pseudonym, *kept}
    vocabulary = _vocabulary(copy, lives.control, {lives.old_pseudonym, *targets})
    index = copy.index()
    assert index.get(lives.old_pseudonym), "the old pseudonym is still in the log"
    problems = []
    # (1) From the old pseudonym.
    found = _reachable(copy, index[lives.old_pseudonym], vocabulary)
    if targets & set(found):
        problems.append("from the old pseudonym: " + _describe(found, targets))
    # (2) From every entry of format 2 written before the erasure.
    starts = [row for seq, row in copy.v2_entries.items() if seq <= v2_before]
    assert starts, "no entry of format 2 before the erasure"
    found = _reachable(copy, starts, vocabulary)
    if targets & set(found):
        problems.append("from the entries of format 2: " + _describe(found, targets))
    # (3) From the person (its id, its principals' names): only what is kept with it —
    # the kept records, and the entries about them under the new pseudonym.
    after = {row for seq, row in _entry_rows(copy).items() if seq > erased_by}
    person = [r for token in ("subj-de", *lives.principals) for r in index.get(token, [])]
    found, rows = _search(copy, person, vocabulary)
    for row in sorted(rows):
        label = copy.labels[row]
        if label.endswith(_KEPT_WITH_THE_PERSON) or label.startswith("recomputed"):
            continue
        if row not in after:
            problems.append(f"the person reaches {label}: {sorted(copy.rows[row] - vocabulary)}")
    if lives.old_pseudonym in found:
        problems.append("the person reaches the old pseudonym: " + _describe(found, targets))
    if new_pseudonym not in found:  # the search works: the kept part is still found
        problems.append("the search no longer finds the person's kept records")
    return problems


def _entry_rows(copy: Copy) -> dict[int, int]:
    return {
        int(label.removeprefix("audit entry ")): row
        for row, label in enumerate(copy.labels)
        if label.startswith("audit entry ")
    }


def test_after_the_erasure_nothing_leads_back_to_the_person(
    tmp_path: Path, url_template: str | None
) -> None:
    with build_world(tmp_path, url_template) as world:
        lives = _setup(world)
        v2_before = _last_seq(world)
        erased_by = _erase_both(world)
        assert _attack(world, lives, v2_before, erased_by) == []


def test_the_attack_finds_what_an_erasure_without_unlinking_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not vacuous after the erasure either: skip the unlinking and the search finds the
    principal, the case files and the ledger entries that still name the person."""
    from servinfo.ledgers import Ledgers, LedgersUnlinked
    from servinfo.store import PrincipalStore

    monkeypatch.setattr(Ledgers, "unlink_subject", lambda *_: LedgersUnlinked(0, 0, 0, 0))
    monkeypatch.setattr(PrincipalStore, "remove_bound_to", lambda *_: [])
    monkeypatch.setattr("servinfo.rights.erasure.unlink_requests", lambda *_, **__: {})
    with build_world(tmp_path) as world:
        lives = _setup(world)
        v2_before = _last_seq(world)
        erased_by = _erase_both(world)
        problems = "\n".join(_attack(world, lives, v2_before, erased_by))
    for table in ("principals", "rights_requests", "consents", "disclosures"):
        assert f"the person reaches control:{table}" in problems


def _last_seq(world: World) -> int:
    world.deployment.rights._flush_audit()
    with world.deployment.control.connect() as connection:
        return int(connection.exec_driver_sql("SELECT max(seq) FROM audit_entries").scalar_one())


# -- the case files' retention: the daily ``request_purge`` job ----------------------------


def _run_jobs(world: World, at: dt.datetime) -> None:
    deployment = world.deployment
    worker = Worker(
        deployment.jobs.queue, deployment_registry(deployment), deployment=deployment,
        clock=lambda: at,
    )  # fmt: skip
    worker.run_until_idle()


def test_case_files_are_deleted_when_their_retention_ends(world: World) -> None:
    rights = world.rights
    access = rights.open("access", "subj-fr", channel="cli", actor="dpo", verified=True, now=NOW)
    rights.process(access.request_id, actor="dpo", now=NOW)
    with world.deployment.control.begin() as connection:
        connection.execute(
            insert(DrpRequestRow).values(
                request_id="drp-0001", rights_request_id=access.request_id, agent_id="agent-1",
                exercise="access", issued_at=NOW, expires_at=NOW, received_at=NOW,
                payload_hash="0" * 64, status="fulfilled",
            )
        )  # fmt: skip
    opened = rights.open("erasure", "subj-de", channel="cli", actor="dpo", verified=True, now=NOW)
    erased = rights.process(opened.request_id, actor="dpo", now=NOW)
    pending = world.notices(request_id=erased.request_id)
    assert pending
    for notice in pending:  # the mailer delivers the erasure's messages
        world.outbox.mark_sent(notice.notice_id, now=NOW)
    # (1) The next day: the delivered messages of the erased subject's requests go;
    # every case file stays for its retention.
    _run_jobs(world, dt.datetime(2026, 5, 5, 4, 0, tzinfo=dt.UTC))
    assert world.notices(request_id=erased.request_id) == []
    assert world.notices(request_id=access.request_id)  # not an erased subject's
    assert {r.request_id for r in rights.list_requests()} >= {access.request_id, opened.request_id}
    # (2) Three years after their completion (the default ``rights.request_retention_days``).
    _run_jobs(world, NOW + dt.timedelta(days=3 * 365 + 1))
    assert rights.list_requests() == []
    assert world.notices(request_id=access.request_id) == []
    with world.deployment.control.connect() as connection:
        assert connection.execute(select(DrpRequestRow.request_id)).all() == []
    (job,) = [j for j in world.deployment.jobs.queue.list(kind=REQUEST_PURGE) if j.result
              and j.result["requests"]]  # fmt: skip
    assert job.result is not None
    assert job.result["requests"] == 2
    assert job.result["drp_requests"] == 1


def test_an_erasure_stopped_before_its_unlinking_is_finished_by_the_daily_job(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from servinfo.store import PrincipalStore

    def crash(*_: object) -> list[str]:
        raise RuntimeError("killed")

    rights = world.rights
    access = rights.open("access", "subj-de", channel="cli", actor="ada", verified=True, now=NOW)
    rights.process(access.request_id, actor="dpo", now=NOW)
    opened = rights.open("erasure", "subj-de", channel="cli", actor="dpo", verified=True, now=NOW)
    with monkeypatch.context() as patched:  # the process dies in step (7)
        patched.setattr(PrincipalStore, "remove_bound_to", crash)
        with pytest.raises(RuntimeError):
            rights.process(opened.request_id, actor="dpo", now=NOW)
    assert rights.get(opened.request_id).state == "partially_completed"
    assert rights.get(opened.request_id).subject_id == "subj-de"  # marked unfinished
    assert world.deployment.principals.get("ada").active
    _run_jobs(world, NOW + dt.timedelta(days=1))
    assert rights.list_requests(subject_id="subj-de") == []
    assert rights.get(access.request_id).opened_by == ERASED_ACTOR
    assert "ada" not in {p.name for p in world.deployment.principal_service.all()}
    with world.deployment.control.connect() as connection:
        salts = connection.exec_driver_sql(
            "SELECT count(*) FROM subject_salts WHERE subject_id = 'subj-de'"
        ).scalar_one()
    assert salts == 0
    (job,) = world.deployment.jobs.queue.list(kind=REQUEST_PURGE)
    assert job.result is not None
    assert job.result["erasures_unlinked"] == 1
    _run_jobs(world, NOW + dt.timedelta(days=2))  # nothing left to finish
    runs = world.deployment.jobs.queue.list(kind=REQUEST_PURGE)
    assert sorted(j.result["erasures_unlinked"] for j in runs if j.result) == [0, 1]

"""Audit log benchmark: append with checkpoints, verification, and witnessed checkpoints.

Two runs, one command each. Both sign C2SP checkpoints on the deployment's
default schedule (one every second or every 100,000 entries, whichever comes
first, on the real clock), through a signer whose state file lives in a
temporary key folder beside a fresh keyring, as a deployment keeps it.

**Throughput** (the default). For each backend, in a fresh control database
made for the run (SQLite in a temporary folder with the control database's
settings — WAL, ``synchronous=FULL`` — or a new PostgreSQL database dropped at
the end):

* **append** — :meth:`servinfo.audit.AuditLog.record_many` of N synthetic
  entries in batches (default 1,000,000 in batches of 10,000; ``--batch``):
  subject salts and pseudonyms, canonical bytes, leaf hashes, the frontier,
  the bulk insert and the sequencing state's MAC, one transaction per batch;
  and after a commit that makes one due, the checkpoint: the signer extends
  its own compact range by the leaf hashes since its last checkpoint (or takes
  the extension the appends computed, when this process made them all), signs
  (Ed25519), writes its state file (fsync, rename, fsync of the folder) and
  the checkpoint row is stored. Time spent signing is printed apart, and the
  appending thread's own CPU beside the process's;
* **plain** — a baseline: the same stored rows (seq, leaf hash, canonical
  bytes) inserted into a table of that shape with SQLAlchemy Core ``insert``
  executemany, one transaction per batch; nothing hashed, pseudonymized or
  signed;
* **driver** — the same rows through the driver's own bulk path (sqlite3
  ``executemany``, psycopg binary ``COPY``), one transaction per batch: what
  the database alone costs at this durability;
* **packed** (SQLite) — the floor and the strongest baseline there: the same
  rows through the append's own insert, one statement per batch (the values
  joined into one blob each, cut by ``substr`` along a ``json_each`` list of
  places), one transaction per batch; faster than ``executemany``;
* **verify** — :meth:`servinfo.audit.AuditLog.verify` of all N entries:
  every stored byte string rehashed, the tree rebuilt, every checkpoint's
  signature, chain and compact range checked against the signer's state.

Targets: append at least 100,000 entries/s on SQLite; verification of
1,000,000 entries in at most 5 s.

    python bench/audit.py --entries 1000000 --batch 10000 --backend both

**Witnessed** (``--witnessed``). Two witnesses run as separate
``servinfo witness serve`` processes on free loopback ports, each made with
``witness init`` in its own temporary folder and told to follow the log
(``witness add-log`` with its origin and current vkey). A tlog-policy file
lists the log and both witnesses with their URLs and a quorum of both (a
group ``all``). One thread appends at a paced rate (default 50,000 entries/s:
5,000 every 100 ms) for ``--seconds``; the deployment's own
:class:`~servinfo.audit.witnessing.WitnessingThread` (``checkpoint_if_due``,
then :meth:`Witnessing.run_once`, every ``--witness-interval`` seconds: by
default the server's, one second) runs beside it. For every batch the bench
keeps the time its ``record_many`` was called and the time the first
checkpoint covering it had both witnesses' cosignatures stored (a round whose
outcomes all succeeded at that size); each such checkpoint is verified
against the policy at the end. Target: p95 of that latency at most 3 s, at
the rate asked. The same-run baseline comes first: the same paced appender
alone (checkpoints signed, no witnessing) for ``--alone-seconds``, which tells
what rate the machine allows at the moment. The witnesses are stopped at the
end, on an error, on Ctrl-C and on SIGTERM.

    python bench/audit.py --witnessed --seconds 30 --rate 50000

Both print PASS/MISS on wall-clock time, the machine, this process's CPU
time and the load average (on a shared machine CPU time moves far less than
wall clock). Never run as a test.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    insert,
    select,
)

from _machine import machine
from servinfo.audit import AUDIT_MIGRATIONS, Action, AuditLog, RecordedEvent
from servinfo.audit._storage import sqlite_entry_statements
from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.models import audit_metadata
from servinfo.audit.note import SIG_COSIGNATURE_ED25519, SIG_COSIGNATURE_MLDSA44, Note
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.witnessing import (
    Witnessing,
    WitnessingThread,
    WitnessOutcome,
    load_witness_policy,
)
from servinfo.crypto import Keyring, LocalMasterKeyWrapper
from servinfo.store import create_engine_for, migrate_control
from servinfo.store.engines import write_transaction

APPEND_TARGET = 100_000  # entries/s, SQLite, checkpoints on
VERIFY_TARGET = 5.0  # seconds for 1,000,000 entries
WITNESSED_TARGET = 3.0  # seconds, p95 from append to a quorum-cosigned checkpoint
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/"
PURPOSES = ("technical_support", "billing", "security", "service_improvement", "pre_credit_check")
#: How long the witnesses may take to listen, and the bench to wait for the last cosignature.
WITNESS_START_S = 30.0
DRAIN_S = 15.0

_entries = audit_metadata.tables["audit_entries"]
_baselines = MetaData()
_BASELINE_COLUMNS = ("seq", "leaf_hash", "entry")


def _baseline_table(name: str) -> Table:
    """A table of ``audit_entries``' shape: seq (the rowid on SQLite), leaf hash, bytes."""
    return Table(
        name,
        _baselines,
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
        Column("leaf_hash", LargeBinary(32), nullable=False),
        Column("entry", LargeBinary, nullable=False),
    )


_plain = _baseline_table("plain_entries")
_driver_plain = _baseline_table("driver_entries")
_packed_plain = _baseline_table("packed_entries")


# -- shared set-up ---------------------------------------------------------------


def synthetic_events(count: int, seed: int = 6) -> list[RecordedEvent]:
    """Access decisions and reads of 10,000 subjects by 200 staff: what the log mostly holds."""
    rng = random.Random(seed)
    events = []
    for i in range(count):
        allowed = rng.random() < 0.9
        ids = tuple(f"01JF{rng.getrandbits(100):021X}"[:26] for _ in range(rng.randint(1, 3)))
        events.append(
            RecordedEvent(
                action=Action.READ if allowed and i % 2 else Action.DECISION,
                actor=f"p_{rng.randrange(200):03d}",
                subject_id=f"subj-{rng.randrange(10_000):05d}",
                purpose=rng.choice(PURPOSES),
                outcome="allow" if allowed else "deny",
                reasons=("role support may use account for technical_support",),
                record_ids=ids if allowed else (),
                details={"rows": len(ids), "region": rng.choice(("eu", "us"))},
            )
        )
    return events


def cycle(events: Sequence[RecordedEvent], offset: int, size: int) -> list[RecordedEvent]:
    """``size`` events from ``offset``, wrapping around the synthetic set."""
    start = offset % len(events)
    chunk = list(events[start : start + size])
    while len(chunk) < size:
        chunk += events[: size - len(chunk)]
    return chunk


@dataclass(frozen=True)
class Signing:
    """One checkpoint signed: when (``perf_counter``), how long it took, its size."""

    at: float
    seconds: float
    size: int


class TimedAuditLog(AuditLog):
    """The deployment's log, noting each checkpoint it signs (from any thread).

    Every checkpoint the schedule makes due goes through :meth:`sign_or_report`,
    whether an append or a timer made it due.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signings: list[Signing] = []
        self.refusals = 0

    def sign_or_report(self) -> bytes | None:
        started = time.perf_counter()
        note = super().sign_or_report()
        ended = time.perf_counter()
        if note is None:
            self.refusals += 1
        else:
            size = Checkpoint.from_body(Note.parse(note).text).size
            self.signings.append(Signing(ended, ended - started, size))
        return note


@contextmanager
def audit_log(engine: Engine) -> Iterator[TimedAuditLog]:
    """A log on ``engine`` with a fresh keyring and signer state in a temporary key folder."""
    with tempfile.TemporaryDirectory(prefix="servinfo-audit-keys-") as folder:
        keyring = Keyring.create(
            Path(folder) / "keyring.json", LocalMasterKeyWrapper(secrets.token_bytes(32)), ["eu"]
        )
        migrate_control(engine, [AUDIT_MIGRATIONS])
        yield TimedAuditLog(
            engine,
            keyring,
            signer_state_file=Path(folder) / "keys" / "audit-signer.json",
            origin=f"servinfo.invalid/servinfo/bench-{secrets.token_hex(4)}",
        )


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="servinfo-audit-bench-") as folder:
        engine = create_engine_for(f"sqlite:///{Path(folder) / 'control.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgresql_engine() -> Iterator[Engine]:
    name = f"servinfo_bench_audit_{secrets.token_hex(4)}"
    with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    engine = create_engine_for(PG_SERVER + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(PG_SERVER + "postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def engine_for(backend: str) -> Any:
    return sqlite_engine() if backend == "sqlite" else postgresql_engine()


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value at or above ``fraction`` of them."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def _progress(what: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        line = f"{what} {done:,}/{total:,}" if total else ""
        print(f"\r{line:<40}", end="" if total else "\r", file=sys.stderr, flush=True)


def postgresql_version() -> str:
    with psycopg.connect(PG_SERVER + "postgres", connect_timeout=3) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


# -- throughput: append with checkpoints, baselines, verify -----------------------


@dataclass(frozen=True)
class Result:
    backend: str
    entries: int
    batch: int
    append_per_s: float
    plain_per_s: float
    driver_per_s: float
    #: SQLite only: the rows through the append's own one-statement insert.
    packed_per_s: float | None
    verify_s: float
    #: Checkpoints signed during the append, and the wall time they took (inside append's).
    checkpoints: int
    checkpoint_s: float
    append_s: float
    #: This process's CPU time (``time.process_time()``): steadier than wall clock on a
    #: shared machine. It includes SQLite's work, not PostgreSQL's nor waits for syncs.
    append_cpu_us: float
    verify_cpu_s: float
    #: The appending thread's own CPU time (``time.thread_time()``): equal to the
    #: process's unless the append runs work in other threads.
    append_thread_cpu_us: float

    @property
    def ratio(self) -> float:
        return self.append_per_s / self.plain_per_s

    @property
    def driver_ratio(self) -> float:
        return self.append_per_s / self.driver_per_s


def run_throughput(backend: str, entries: int, batch: int) -> Result:
    events = synthetic_events(min(entries, 100_000))
    with engine_for(backend) as engine, audit_log(engine) as log:
        _baselines.create_all(engine)
        # Append, checkpoints signed as they come due.
        started, cpu, thread_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        done = 0
        while done < entries:
            size = min(batch, entries - done)
            log.record_many(cycle(events, done, size))
            done += size
            _progress("append", done, entries)
        append_s = time.perf_counter() - started
        append_cpu_s = time.process_time() - cpu
        append_thread_cpu_s = time.thread_time() - thread_cpu
        if log.refusals:
            raise SystemExit(f"the signer refused {log.refusals} checkpoint(s): see the log")
        signed = list(log.signings)
        # A command signs the tail before it exits; outside the timing, as in a deployment.
        log.checkpoint()
        # Plain inserts of the same stored rows.
        plain_count = min(entries, 200_000)
        with engine.connect() as connection:
            query = select(_entries.c.seq, _entries.c.leaf_hash, _entries.c.entry)
            stored = connection.execute(
                query.where(_entries.c.seq < plain_count).order_by(_entries.c.seq)
            ).all()
        started = time.perf_counter()
        for i in range(0, len(stored), batch):
            rows = [dict(zip(_BASELINE_COLUMNS, row, strict=True)) for row in stored[i : i + batch]]
            with write_transaction(engine) as connection:
                connection.execute(insert(_plain), rows)
        plain_s = time.perf_counter() - started
        # The driver's own bulk insert of the same rows.
        started = time.perf_counter()
        for i in range(0, len(stored), batch):
            with write_transaction(engine) as connection:
                driver_insert(connection, [tuple(row) for row in stored[i : i + batch]])
        driver_s = time.perf_counter() - started
        # SQLite: the same rows through the append's own insert (one statement a batch).
        packed_s = None
        if backend == "sqlite":
            started = time.perf_counter()
            for i in range(0, len(stored), batch):
                with write_transaction(engine) as connection:
                    packed_insert(connection, stored[i : i + batch])
            packed_s = time.perf_counter() - started
        del stored
        # Verify.
        started, cpu = time.perf_counter(), time.process_time()
        report = log.verify()
        verify_s = time.perf_counter() - started
        verify_cpu_s = time.process_time() - cpu
        if report.entries != entries or report.checkpoints < len(signed):
            raise SystemExit(f"verification saw {report}, expected {entries} entries")
    _progress("", 0, 0)
    return Result(
        backend,
        entries,
        batch,
        entries / append_s,
        plain_count / plain_s,
        plain_count / driver_s,
        None if packed_s is None else plain_count / packed_s,
        verify_s,
        len(signed),
        sum(s.seconds for s in signed),
        append_s,
        append_cpu_s * 1e6 / entries,
        verify_cpu_s,
        append_thread_cpu_s * 1e6 / entries,
    )


def driver_insert(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``(seq, leaf_hash, entry)`` rows into the driver baseline, bypassing SQLAlchemy."""
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        driver.executemany(
            "INSERT INTO driver_entries (seq, leaf_hash, entry) VALUES (?, ?, ?)", rows
        )
        return
    statement = "COPY driver_entries (seq, leaf_hash, entry) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(["int8", "bytea", "bytea"])
        for row in rows:
            copy.write_row(row)


def packed_insert(connection: Connection, rows: Sequence[Any]) -> None:
    """Insert ``(seq, leaf_hash, entry)`` rows with contiguous seqs into the packed baseline,
    as the append inserts its entries on SQLite: one statement, the values joined."""
    driver: Any = connection.connection.driver_connection
    seqs, leaves, datas = zip(*rows, strict=True)
    if list(seqs) != list(range(seqs[0], seqs[0] + len(seqs))):
        raise SystemExit("the packed baseline takes contiguous seqs")
    statements = sqlite_entry_statements(seqs[0], leaves, datas, table=_packed_plain.name)
    for statement in statements:
        driver.execute(*statement)


def report_throughput(results: list[Result]) -> None:
    print()
    print(
        "| backend | entries | batch | append entries/s | checkpoints (s signing) "
        "| plain inserts/s | append / plain | driver inserts/s | append / driver "
        "| packed inserts/s | append / packed "
        "| verify all (s) | verify per 1M (s) | append CPU µs/entry "
        "| appending thread's CPU µs/entry | verify CPU (s) |"
    )
    print(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | ---: | ---: |"
    )
    for r in results:
        per_million = r.verify_s * 1_000_000 / r.entries
        print(
            f"| {r.backend} | {r.entries:,} | {r.batch:,} | {r.append_per_s:,.0f} | "
            f"{r.checkpoints} ({r.checkpoint_s:.2f}) | "
            f"{r.plain_per_s:,.0f} | {r.ratio:.0%} | {r.driver_per_s:,.0f} | "
            f"{r.driver_ratio:.0%} | {_packed(r)} | "
            f"{r.verify_s:.2f} | {per_million:.2f} | "
            f"{r.append_cpu_us:.1f} | {r.append_thread_cpu_us:.1f} | {r.verify_cpu_s:.2f} |"
        )
    print()
    for r in results:
        share = r.checkpoint_s / r.append_s
        without = r.entries / (r.append_s - r.checkpoint_s)
        print(
            f"{r.backend}: {r.checkpoints} checkpoints signed while appending, "
            f"{r.checkpoint_s:.2f} s of the append's {r.append_s:.2f} s ({share:.0%}); "
            f"without that time the append would run at {without:,.0f}/s"
        )
    for r in results:
        verdict = "PASS" if r.append_per_s >= APPEND_TARGET else "MISS"
        judged = "" if r.backend == "sqlite" else " (reported, the target is SQLite's)"
        print(
            f"{verdict}: {r.backend} append with checkpoints {r.append_per_s:,.0f}/s "
            f"(target >= {APPEND_TARGET:,}/s){judged}; same-run baselines: driver bulk "
            f"{r.driver_per_s:,.0f}/s, plain {r.plain_per_s:,.0f}/s"
            + ("" if r.packed_per_s is None else f", packed {r.packed_per_s:,.0f}/s")
        )
        per_million = r.verify_s * 1_000_000 / r.entries
        verdict = "PASS" if per_million <= VERIFY_TARGET else "MISS"
        print(
            f"{verdict}: {r.backend} verification {per_million:.2f} s per 1,000,000 entries "
            f"(target <= {VERIFY_TARGET:.0f} s)"
        )


def _packed(r: Result) -> str:
    if r.packed_per_s is None:
        return "— | —"
    return f"{r.packed_per_s:,.0f} | {r.append_per_s / r.packed_per_s:.0%}"


# -- witnessed: two witness processes, paced appends, latency to a quorum --------------


@dataclass
class RunningWitness:
    """A ``servinfo witness serve`` process the bench started, and its verifier keys."""

    name: str
    directory: Path
    port: int
    vkeys: list[str]
    output: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def servinfo_cli(*args: str | Path) -> str:
    """Run ``servinfo`` in a fresh process; its standard output (one line on failure)."""
    command = [sys.executable, "-m", "servinfo", *map(str, args)]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise SystemExit(
            f"servinfo {args[0]} {args[1]} failed: {message[-1] if message else done.returncode}"
        )
    return done.stdout.decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_witness(root: Path, number: int, origin: str, log_vkey: str) -> RunningWitness:
    """``witness init``, ``add-log`` and ``serve`` in its own folder; not yet known to listen."""
    directory = root / f"witness-{number}"
    name = f"witness-{number}.bench.servinfo.invalid"
    servinfo_cli("witness", "init", "--dir", directory, "--name", name)
    servinfo_cli("witness", "add-log", "--dir", directory, "--origin", origin, "--key", log_vkey)
    vkeys = servinfo_cli("witness", "key", "--dir", directory).split()
    witness = RunningWitness(name, directory, free_port(), vkeys, root / f"witness-{number}.out")
    with open(witness.output, "wb") as output:
        witness.process = subprocess.Popen(
            [sys.executable, "-m", "servinfo", "witness", "serve", "--dir", str(directory),
             "--host", "127.0.0.1", "--port", str(witness.port)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the bench, which stops it in order
        )  # fmt: skip
    return witness


def wait_listening(witness: RunningWitness, deadline: float) -> None:
    assert witness.process is not None
    while time.monotonic() < deadline:
        if witness.process.poll() is not None:
            tail = witness.output.read_text(errors="replace").strip().splitlines()[-1:]
            raise SystemExit(f"witness {witness.name} exited: {' '.join(tail)}")
        try:
            socket.create_connection(("127.0.0.1", witness.port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"witness {witness.name} did not listen on port {witness.port} in time")


def stop_witness(witness: RunningWitness) -> None:
    process = witness.process
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def witnesses(root: Path, origin: str, log_vkey: str, count: int) -> Iterator[list[RunningWitness]]:
    """``count`` witnesses listening on loopback, stopped on the way out, however it goes."""
    with ExitStack() as stack:
        running = []
        for number in range(1, count + 1):
            witness = start_witness(root, number, origin, log_vkey)
            stack.callback(stop_witness, witness)
            running.append(witness)
        deadline = time.monotonic() + WITNESS_START_S
        for witness in running:
            wait_listening(witness, deadline)
        yield running


def policy_text(log_vkey: str, running: Sequence[RunningWitness], key: str) -> str:
    """The log, each witness with its URL and the chosen cosignature key, a quorum of all."""
    kind = SIG_COSIGNATURE_MLDSA44 if key == "mldsa44" else SIG_COSIGNATURE_ED25519
    names = [f"w{n}" for n in range(1, len(running) + 1)]
    lines = [f"log {log_vkey}"]
    for name, witness in zip(names, running, strict=True):
        vkey = next(v for v in witness.vkeys if _key_type(v) == kind)
        lines.append(f"witness {name} {vkey} {witness.url}")
    lines += [f"group every-witness all {' '.join(names)}", "quorum every-witness"]
    return "\n".join(lines) + "\n"


def _key_type(vkey: str) -> int:
    """A verifier key's type byte (the first byte of its base64 key material)."""
    return base64.b64decode(vkey.split("+", 2)[2])[0]  # name+id+key; the key may hold "+"


@dataclass(frozen=True)
class Round:
    started: float
    ended: float
    outcomes: tuple[WitnessOutcome, ...]


class TimedWitnessing(Witnessing):
    """The deployment's witnessing, noting when each round ended and what it achieved."""

    def __init__(self, log: AuditLog, policy: TrustPolicy) -> None:
        super().__init__(log, policy)
        self._policy = policy
        self.rounds: list[Round] = []
        #: ``(perf_counter, size)``: the checkpoint of ``size`` had a quorum of cosignatures.
        self.quorums: list[tuple[float, int]] = []

    def run_once(self) -> list[WitnessOutcome]:
        started = time.perf_counter()
        outcomes = super().run_once()
        ended = time.perf_counter()
        self.rounds.append(Round(started, ended, tuple(outcomes)))
        sizes = {o.size for o in outcomes}
        if len(sizes) == 1 and self._policy.is_quorum(o.witness for o in outcomes if o.ok):
            self.quorums.append((ended, sizes.pop()))
        return outcomes

    def witnessed_size(self) -> int:
        return self.quorums[-1][1] if self.quorums else 0


@dataclass
class Batch:
    called: float
    returned: float
    end: int  # one past the batch's last seq
    signed: float | None = None
    witnessed: float | None = None


@dataclass
class WitnessedResult:
    backend: str
    rate: int
    batch: int
    seconds: float
    key: str
    interval: float
    batches: list[Batch]
    signings: list[Signing]
    rounds: list[Round]
    cpu_s: float
    #: The paced appender alone, in the same run before the witnessing started: entries/s.
    alone_rate: float
    alone_seconds: float
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def entries(self) -> int:
        return len(self.batches) * self.batch

    @property
    def achieved_rate(self) -> float:
        return achieved_rate(self.batches, self.batch)

    def latencies(self, which: str) -> list[float]:
        values = []
        for b in self.batches:
            at = b.witnessed if which == "witnessed" else b.signed
            if at is not None:
                values.append(at - b.called)
        return values


def append_paced(
    log: AuditLog, events: Sequence[RecordedEvent], batch: int, pace: float, count: int, first: int
) -> list[Batch]:
    """``count`` batches, batch k due ``k * pace`` seconds after the start; a late one goes
    at once. ``first`` numbers the first batch (where it starts in the synthetic events)."""
    batches: list[Batch] = []
    start = time.perf_counter()
    for k in range(count):
        delay = start + k * pace - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        called = time.perf_counter()
        seqs = log.record_many(cycle(events, (first + k) * batch, batch))
        batches.append(Batch(called, time.perf_counter(), seqs.stop))
        _progress("append", k + 1, count)
    _progress("", 0, 0)
    return batches


def achieved_rate(batches: Sequence[Batch], batch: int) -> float:
    return len(batches) * batch / (batches[-1].returned - batches[0].called)


def run_witnessed(
    backend: str,
    rate: int,
    batch: int,
    seconds: float,
    key: str,
    interval: float,
    alone_seconds: float,
) -> WitnessedResult:
    events = synthetic_events(100_000)
    pace = batch / rate
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="servinfo-witnessed-")))
        engine = stack.enter_context(engine_for(backend))
        log = stack.enter_context(audit_log(engine))
        log_vkey = log.vkeys()[-1]
        running = stack.enter_context(witnesses(root, log.origin, log_vkey, 2))
        policy_file = root / "witness-policy.txt"
        policy_file.write_text(policy_text(log_vkey, running, key), "utf-8")
        policy = load_witness_policy(policy_file)
        assert policy is not None
        witnessing = TimedWitnessing(log, policy)
        thread = WitnessingThread(log, witnessing, root / "witnessing.lock", interval=interval)
        # The same-run baseline: the paced appender alone (checkpoints signed, no witnessing).
        alone = append_paced(log, events, batch, pace, max(1, round(alone_seconds / pace)), 0)
        thread.start()
        stack.callback(thread.stop)
        cpu = time.process_time()
        batches = append_paced(log, events, batch, pace, max(1, round(seconds / pace)), len(alone))
        cpu_s = time.process_time() - cpu
        # The last batches: the timer signs the quiet tail and has it cosigned.
        final = batches[-1].end
        deadline = time.perf_counter() + DRAIN_S
        while witnessing.witnessed_size() < final and time.perf_counter() < deadline:
            time.sleep(0.05)
        thread.stop()
        if log.refusals:
            raise SystemExit(f"the signer refused {log.refusals} checkpoint(s): see the log")
        # Each quorum the bench counts is a checkpoint the policy accepts as stored.
        for _, size in witnessing.quorums:
            policy.verify_checkpoint(log.checkpoint_of_size(size))
        _match(batches, log.signings, witnessing.quorums)
        failures: dict[str, int] = {}
        for r in witnessing.rounds:
            for outcome in r.outcomes:
                if not outcome.ok:
                    failures[outcome.result] = failures.get(outcome.result, 0) + 1
        return WitnessedResult(
            backend,
            rate,
            batch,
            seconds,
            key,
            interval,
            batches,
            [s for s in log.signings if s.at >= batches[0].called],
            list(witnessing.rounds),
            cpu_s,
            achieved_rate(alone, batch),
            alone_seconds,
            failures,
        )


def _match(
    batches: list[Batch], signings: Sequence[Signing], quorums: Sequence[tuple[float, int]]
) -> None:
    """Give each batch the first signing, and the first quorum, covering its last entry."""
    ordered_signings = sorted((s.at, s.size) for s in signings)
    for b in batches:
        b.signed = next((at for at, size in ordered_signings if size >= b.end), None)
        b.witnessed = next((at for at, size in quorums if size >= b.end), None)


def report_witnessed(r: WitnessedResult) -> None:
    witnessed = r.latencies("witnessed")
    signed = r.latencies("signed")
    appends = [b.returned - b.called for b in r.batches]
    durations = [x.ended - x.started for x in r.rounds if x.outcomes]
    missing = len(r.batches) - len(witnessed)
    print()
    print(
        f"appended {r.entries:,} entries in {len(r.batches):,} batches of {r.batch:,} "
        f"(asked {r.rate:,}/s for {r.seconds:g} s): achieved {r.achieved_rate:,.0f}/s; "
        f"{len(r.signings)} checkpoints signed; {len(durations)} witnessing rounds "
        f"every {r.interval:g} s ({r.key} cosignatures); CPU {r.cpu_s:.1f} s in this process"
    )
    print(
        f"same-run baseline: the paced appender alone (checkpoints signed, no witnessing) for "
        f"{r.alone_seconds:g} s before: {r.alone_rate:,.0f}/s"
    )
    if r.failures:
        print(f"witness failures: {r.failures}")
    print()
    print("| from a batch's append to | p50 (s) | p95 (s) | max (s) | batches |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = [
        ("its append returned", appends),
        ("a checkpoint covering it signed", signed),
        ("that checkpoint cosigned by both witnesses", witnessed),
    ]
    for label, values in rows:
        if values:
            print(
                f"| {label} | {percentile(values, 0.5):.2f} | {percentile(values, 0.95):.2f} "
                f"| {max(values):.2f} | {len(values):,} |"
            )
    if durations:
        print(
            f"| (a witnessing round's own duration) | {percentile(durations, 0.5):.2f} "
            f"| {percentile(durations, 0.95):.2f} | {max(durations):.2f} | {len(durations):,} |"
        )
    print()
    if missing or not witnessed:
        print(f"MISS: {missing} of {len(r.batches)} batches never reached a witnessed checkpoint")
        return
    p95 = percentile(witnessed, 0.95)
    verdict = "PASS" if p95 <= WITNESSED_TARGET and r.achieved_rate >= 0.95 * r.rate else "MISS"
    print(
        f"{verdict}: p95 from append to a checkpoint cosigned by both witnesses {p95:.2f} s "
        f"(target <= {WITNESSED_TARGET:.0f} s) while appending {r.achieved_rate:,.0f}/s "
        f"(asked {r.rate:,}/s)"
    )


# -- command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=None, help="10,000; witnessed: 5,000")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--witnessed", action="store_true", help="the witnessed-latency run")
    parser.add_argument("--seconds", type=float, default=30.0, help="witnessed: appending time")
    parser.add_argument("--rate", type=int, default=50_000, help="witnessed: entries/s asked")
    parser.add_argument(
        "--alone-seconds",
        type=float,
        default=10.0,
        help="witnessed: the paced appender alone first, as a baseline",
    )
    parser.add_argument(
        "--witness-interval", type=float, default=1.0, help="witnessed: the timer's interval (s)"
    )
    parser.add_argument(
        "--cosignature",
        choices=("mldsa44", "ed25519"),
        default="mldsa44",
        help="witnessed: the witness key the policy trusts",
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if args.witnessed and len(backends) > 1:
        parser.error("--witnessed runs on one backend")
    extras = [postgresql_version()] if "postgresql" in backends else []
    print(f"machine: {machine(*extras)}")
    print(f"command: python bench/audit.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    sys.stdout.flush()
    # SIGTERM unwinds like Ctrl-C, so the witnesses and databases are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.witnessed:
            batch = args.batch or 5_000
            result = run_witnessed(
                backends[0],
                args.rate,
                batch,
                args.seconds,
                args.cosignature,
                args.witness_interval,
                args.alone_seconds,
            )
            report_witnessed(result)
        else:
            batch = args.batch or 10_000
            report_throughput([run_throughput(b, args.entries, batch) for b in backends])
    except KeyboardInterrupt:
        _progress("", 0, 0)
        print("interrupted: witnesses stopped, temporary databases removed", file=sys.stderr)
        return 130
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

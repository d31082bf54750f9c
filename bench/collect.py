"""Collect benchmark: HTTPS ingest against direct writes, single requests/s, redaction.

In one run, ``--rounds`` times (3 by default; the medians are the result,
because wall-clock rates on a small VM swing by a third between runs), on
temporary SQLite deployments it creates and deletes:

1. **batched HTTPS ingest** — ``servinfo serve`` (uvicorn, 2 workers, TLS with
   the deployment's certificate) on a free loopback port; N simulator records
   sent with :meth:`servinfo.client.Client.send_many` in batches of 1,000 by
   two sender threads (each with one client per service), so that both
   workers are busy;
2. **single-record requests/s** — :meth:`Client.send` (each with its own
   Idempotency-Key) from 16 client threads for ``--seconds`` against the same
   server (target ≥ 500/s): many services sending at once, as a server sees
   them; 4 threads cannot keep two workers busy, since each request waits for
   two commits on disk;
3. **in-process collector** — the same lines through
   :meth:`Collector.ingest_lines` in a fresh deployment (the same checks,
   redaction and writes; no HTTP, TLS or idempotency keys);
4. **direct store writes** — the same records, prepared beforehand, through
   :meth:`RecordWriter.put_many` in batches of 1,000 into a fresh deployment:
   the baseline the target is judged against (batched HTTPS ≥ 60 %);

and once, **redaction** — ``bench/collect_redaction.py``'s
``run_redaction_bench`` (servinfo against presidio-analyzer's pattern
recognizers), if present.

Registrations (organizations, subjects) are sent first and not timed.
Never run as a test.

    .venv/bin/python bench/collect.py --records 20000 --seconds 5
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from _machine import machine
from servinfo.client import Client
from servinfo.collect.by_service import service_of
from servinfo.collect.simulator.simulation import simulate
from servinfo.deployment import Deployment, create_deployment, open_deployment
from servinfo.store import NewRecord

SERVICES = ("identity", "platform", "support")
BATCH = 1000
TARGET_RATIO = 0.60
TARGET_SINGLE = 500.0


def _deployment(root: Path, name: str) -> tuple[Path, str, dict[str, str]]:
    path = root / name
    result = create_deployment(path, {})
    tokens = {"admin": result.admin_token}
    with open_deployment(path, {}) as deployment:
        for service in SERVICES:
            issued = deployment.principal_service.add(
                service, kind="service", role="ingest", region=None, binding=service, actor="admin"
            )
            tokens[service] = issued.token
    return path, result.admin_token, tokens


def _workload(records: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from servinfo.policy import load_policy_text
    from servinfo.policy.loading import default_policy_text

    policy = load_policy_text(default_policy_text(), "default.yaml")
    registrations: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for obj in simulate(policy, customers=max(5, records // 400), days=7, seed=seed):
        if obj.get("type", "record") == "record":
            found.append(obj)
            if len(found) >= records:
                break
        else:
            registrations.append(obj)
    return registrations, found


def _by_service(objects: list[dict[str, Any]]) -> dict[str, list[bytes]]:
    groups: dict[str, list[bytes]] = {}
    for obj in objects:
        groups.setdefault(service_of(obj), []).append(json.dumps(obj).encode())
    return groups


def _register(
    deployment: Deployment, tokens: dict[str, str], registrations: list[dict[str, Any]]
) -> None:
    principal = deployment.principal_service.authenticate(tokens["identity"])
    result = deployment.collector.ingest_lines(
        principal, (json.dumps(o).encode() for o in registrations)
    )
    assert not result.rejected, result.rejected[:3]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Server:
    def __init__(self, data_dir: Path, workers: int) -> None:
        self.port = _free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.cert = str(data_dir / "tls" / "server.crt")
        env = {**os.environ, "SERVINFO_SERVER_HOST": "127.0.0.1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "servinfo",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{self.url}/healthz", verify=False, timeout=1)  # noqa: S501
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            if answer.status_code == 200:
                self._wait_until_idle(deadline)
                return
        self.stop()
        raise RuntimeError("servinfo serve did not start within 60 s")

    def _wait_until_idle(self, deadline: float) -> None:
        """Wait for every worker to finish starting (compiling the policy takes CPU).

        /healthz answers as soon as one worker is up; the other may still be
        starting, and its start-up would be timed as ingest work.
        """
        before = self.cpu_seconds()
        while before is not None and time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now is None or now - before < 0.02:
                return
            before = now

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server and its workers so far (Linux /proc), else None."""
        tick = os.sysconf("SC_CLK_TCK")
        total, pending, seen = 0.0, [self.process.pid], set()
        try:
            while pending:
                pid = pending.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            return None
        return total

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _split(groups: dict[str, list[bytes]], senders: int) -> list[list[tuple[str, list[bytes]]]]:
    """Batches of 1,000 lines per service, dealt round-robin to the sender threads."""
    work: list[list[tuple[str, list[bytes]]]] = [[] for _ in range(senders)]
    batches = (
        (service, lines[i : i + BATCH])
        for service, lines in groups.items()
        for i in range(0, len(lines), BATCH)
    )
    for index, batch in enumerate(batches):
        work[index % senders].append(batch)
    return work


def bench_https(
    root: Path,
    registrations: list[dict[str, Any]],
    groups: dict[str, list[bytes]],
    workers: int,
    senders: int,
) -> tuple[float, int, _Server, dict[str, str], float | None]:
    """Seconds, records accepted, the server (still running), tokens, server CPU a record."""
    path, _, tokens = _deployment(root, "https")
    with open_deployment(path, {}) as deployment:
        _register(deployment, tokens, registrations)
    server = _Server(path, workers)
    work = _split(groups, senders)

    def run(batches: list[tuple[str, list[bytes]]]) -> int:
        clients = {s: Client(server.url, tokens[s], verify=server.cert) for s in groups}
        accepted = 0
        try:
            for service, lines in batches:
                accepted += clients[service].send_many(lines).accepted
        finally:
            for client in clients.values():
                client.close()
        return accepted

    cpu = server.cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        accepted = sum(pool.map(run, work))
    elapsed = time.perf_counter() - start
    after = server.cpu_seconds()
    per_record = None
    if cpu is not None and after is not None and accepted:
        per_record = (after - cpu) / accepted
    return elapsed, accepted, server, tokens, per_record


def bench_collector(
    root: Path, registrations: list[dict[str, Any]], groups: dict[str, list[bytes]]
) -> tuple[float, int]:
    path, _, tokens = _deployment(root, "collector")
    with open_deployment(path, {}) as deployment:
        _register(deployment, tokens, registrations)
        principals = {s: deployment.principal_service.authenticate(tokens[s]) for s in groups}
        start = time.perf_counter()
        accepted = 0
        for service, lines in groups.items():
            result = deployment.collector.ingest_lines(principals[service], lines)
            accepted += len(result.accepted)
        return time.perf_counter() - start, accepted


def bench_direct(
    root: Path, registrations: list[dict[str, Any]], groups: dict[str, list[bytes]]
) -> tuple[float, int]:
    """Records prepared by the collector of one deployment, written by another's writer."""
    from servinfo.collect.objects import parse_json, parse_object

    prepared: list[NewRecord] = []
    path, _, tokens = _deployment(root, "prepare")
    with open_deployment(path, {}) as deployment:
        _register(deployment, tokens, registrations)
        collector = deployment.collector
        compiled = collector.compiled()
        for service, lines in groups.items():
            for chunk in _chunks(lines, BATCH):
                parsed = [parse_object(parse_json(line), compiled.markers) for line in chunk]
                subjects = collector.subjects(p.subject for p in parsed)  # type: ignore[union-attr]
                for item in parsed:
                    try:
                        prepared.append(
                            collector.prepare(compiled, service, item, subjects).record  # type: ignore[arg-type]
                        )
                    except Exception:  # noqa: S112 - the same lines the others reject
                        continue
    path, _, tokens = _deployment(root, "direct")
    with open_deployment(path, {}) as deployment:
        _register(deployment, tokens, registrations)
        start = time.perf_counter()
        ids = deployment.writer.put_many(prepared, batch_size=BATCH)
        return time.perf_counter() - start, len(ids)


def _chunks(lines: list[bytes], size: int) -> Iterator[list[bytes]]:
    for i in range(0, len(lines), size):
        yield lines[i : i + size]


@dataclass
class Round:
    """One round's figures: rates in records (or requests) a second, CPU in µs."""

    https: float
    collector: float
    direct: float
    single: float
    https_cpu: float | None
    single_cpu: float | None

    @property
    def ratio(self) -> float:
        return self.https / self.direct


def run_round(
    root: Path,
    registrations: list[dict[str, Any]],
    records: list[dict[str, Any]],
    groups: dict[str, list[bytes]],
    args: argparse.Namespace,
) -> Round:
    https_s, https_n, server, tokens, https_cpu = bench_https(
        root, registrations, groups, args.workers, args.senders
    )
    try:
        subject = next(o["subject"] for o in records if service_of(o) == "platform")
        single_s, single_n, single_cpu = bench_single_for(server, tokens["platform"], subject, args)
    finally:
        server.stop()
    collector_s, collector_n = bench_collector(root, registrations, groups)
    direct_s, direct_n = bench_direct(root, registrations, groups)
    return Round(
        https_n / https_s,
        collector_n / collector_s,
        direct_n / direct_s,
        single_n / single_s,
        https_cpu,
        single_cpu,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--single-threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redaction-mb", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    print(f"machine: {machine()}")
    registrations, records = _workload(args.records, args.seed)
    groups = _by_service(records)
    per_service = ", ".join(f"{s} {len(v)}" for s, v in groups.items())
    print(
        f"workload: {len(records)} simulator records ({per_service}), "
        f"{len(registrations)} registrations"
    )
    print(
        f"{args.rounds} rounds, each: batched HTTPS ({args.workers} workers, {args.senders} "
        f"senders, batches of {BATCH}), single-record requests ({args.single_threads} client "
        "threads), in-process collector, direct store writes"
    )
    rounds: list[Round] = []
    for number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="servinfo-bench-collect-") as tmp:
            got = run_round(Path(tmp), registrations, records, groups, args)
        rounds.append(got)
        print(
            f"  round {number}: HTTPS {got.https:,.0f} rec/s ({_micro(got.https_cpu)} server "
            f"CPU a record), collector {got.collector:,.0f}, direct {got.direct:,.0f} rec/s: "
            f"HTTPS / direct {got.ratio:.1%}; single {got.single:,.0f}/s "
            f"({_micro(got.single_cpu)} server CPU a request)"
        )
    ratio = statistics.median(r.ratio for r in rounds)
    single = statistics.median(r.single for r in rounds)
    print(f"median of {len(rounds)} rounds:")
    print(
        f"  batched HTTPS {statistics.median(r.https for r in rounds):,.0f} rec/s, "
        f"in-process collector {statistics.median(r.collector for r in rounds):,.0f} rec/s, "
        f"direct store writes (RecordWriter.put_many) "
        f"{statistics.median(r.direct for r in rounds):,.0f} rec/s"
    )
    print(
        f"  HTTPS / direct: {ratio:.1%} (target {TARGET_RATIO:.0%}) "
        f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}"
    )
    print(
        f"  single-record requests: {single:,.0f}/s over {args.seconds:.0f} s with "
        f"{args.single_threads} threads (target {TARGET_SINGLE:.0f}/s) "
        f"{'PASS' if single >= TARGET_SINGLE else 'MISS'}"
    )
    bench_redaction(args)
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


def _micro(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds * 1e6:,.1f} us"


def bench_single_for(
    server: _Server, token: str, subject: str, args: argparse.Namespace
) -> tuple[float, int, float | None]:
    """Seconds, requests answered, server CPU a request."""
    sample = {
        "subject": subject,
        "kind": "telemetry.usage",
        "collected_at": "2026-11-20T08:15:02Z",
        "fields": {"resource_id": "vm-1", "metric": "cpu_seconds", "quantity": 1.5},
    }

    def run(_: int) -> int:
        done = 0
        with Client(server.url, token, verify=server.cert) as client:
            while time.monotonic() < deadline:
                client.send(sample)
                done += 1
        return done

    with Client(server.url, token, verify=server.cert) as client:
        for _ in range(20):  # each worker's first requests open connections and caches
            client.send(sample)
    deadline = time.monotonic() + args.seconds
    cpu = server.cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(args.single_threads) as pool:
        done = sum(pool.map(run, range(args.single_threads)))
    elapsed = time.perf_counter() - start
    after = server.cpu_seconds()
    per_request = None
    if cpu is not None and after is not None and done:
        per_request = (after - cpu) / done
    return elapsed, done, per_request


def bench_redaction(args: argparse.Namespace) -> None:
    path = Path(__file__).with_name("collect_redaction.py")
    if not path.exists():
        print("redaction: skipped (bench/collect_redaction.py not present)")
        return
    spec = importlib.util.spec_from_file_location("collect_redaction", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["collect_redaction"] = module
    spec.loader.exec_module(module)
    module.run_redaction_bench(mb=args.redaction_mb, seed=args.seed)


if __name__ == "__main__":
    raise SystemExit(main())

""" "Send me a code": does the answer's timing tell whether an address is known?

A fresh SQLite deployment whose e-mail goes over real SMTP to a local aiosmtpd
server (127.0.0.1, an ephemeral port); ``--subjects`` account profiles ingested
through the collector (so their e-mail addresses carry identifier indexes).
Then ``POST /v1/self-service/requests`` through the application (FastAPI's test
client, in process), ``--samples`` times each, interleaved, with an address
that is known — each time another subject's, since a subject gets one code a
minute (a request is opened, a code made, sent by SMTP, recorded) — and one
that is not (only the lookup and its audit entry), under two settings of
``notify.code_answer_ms``: 0 (the work alone) and the default (300 ms).

Printed per setting: the median and p95 of each, and the ratio known/unknown
of the medians — the baseline is the unknown address measured in the same run.
Target: with the default floor, a ratio within 1.5 (the same order of
magnitude by a wide margin). Never run as a test.

    .venv/bin/python bench/self_service_codes.py --samples 40
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient

from _machine import machine
from servinfo.api import create_app
from servinfo.deployment import create_deployment, open_deployment

TARGET_RATIO = 1.5
DEFAULT_FLOOR_MS = 300


class _Sink:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _measure(
    data_dir: Path, port: int, floor_ms: int, samples: int, first: int
) -> dict[str, list[float]]:
    env = {
        "SERVINFO_NOTIFY_EMAIL": "smtp",
        "SERVINFO_NOTIFY_SMTP_HOST": "127.0.0.1",
        "SERVINFO_NOTIFY_SMTP_PORT": str(port),
        "SERVINFO_NOTIFY_SMTP_TLS": "none",
        "SERVINFO_NOTIFY_CODE_ANSWER_MS": str(floor_ms),
        "SERVINFO_RATE_LIMITS_PER_ADDRESS_PER_MINUTE": "0",
    }
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    with open_deployment(data_dir, env) as deployment, TestClient(create_app(deployment)) as client:
        for index in range(samples + 2):  # two uncounted warm-up rounds
            for which, email in (
                # A subject gets one code a minute: each known request names another.
                ("known", f"user{first + index:04d}@example.test"),
                ("unknown", f"nobody{index:04d}@example.test"),
            ):
                body: dict[str, Any] = {"type": "access", "email": email}
                started = time.perf_counter()
                answer = client.post("/v1/self-service/requests", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 202:
                    sys.exit(f"unexpected answer {answer.status_code}: {answer.text}")
                if index >= 2:
                    times[which].append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--subjects", type=int, default=0, help="default: enough for 2 runs")
    args = parser.parse_args()
    args.subjects = max(args.subjects, 2 * (args.samples + 2))
    print(machine(f"{args.samples} samples each, {args.subjects} subjects, SQLite, SMTP local"))
    sink = _Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory(prefix="servinfo-codes-") as folder:
            data_dir = Path(folder) / "deployment"
            create_deployment(data_dir, {})
            with open_deployment(data_dir, {}) as deployment:
                deployment.directory.add_organization("bench-org", "Bench", "eu")
                identity = deployment.principal_service.add(
                    "bench-identity", kind="service", role="ingest", region=None,
                    binding="identity", actor="admin",
                ).principal  # fmt: skip
                items = []
                for who in range(args.subjects):
                    deployment.directory.register_subject(f"bench-{who:04d}", "bench-org", "DE")
                    record = {
                        "type": "record",
                        "subject": f"bench-{who:04d}",
                        "kind": "account.profile",
                        "collected_at": "2026-03-02T09:30:00+00:00",
                        "fields": {"username": f"u{who}", "email": f"user{who:04d}@example.test"},
                    }
                    items.append((identity, record, None))
                deployment.collector.ingest_many(items)
            verdicts = []
            for run, floor in enumerate((0, DEFAULT_FLOOR_MS)):
                times = _measure(data_dir, port, floor, args.samples, run * (args.samples + 2))
                known, unknown = (statistics.median(times[k]) for k in ("known", "unknown"))
                ratio = known / unknown
                print(
                    f"notify.code_answer_ms={floor:>3}: known address median {known:7.1f} ms "
                    f"(p95 {_p95(times['known']):7.1f}), unknown median {unknown:7.1f} ms "
                    f"(p95 {_p95(times['unknown']):7.1f}); ratio known/unknown {ratio:.2f}"
                )
                if floor == DEFAULT_FLOOR_MS:
                    verdicts.append(ratio <= TARGET_RATIO)
            print(f"messages received by the SMTP server: {sink.received}")
            met = all(verdicts)
            print(f"target (ratio within {TARGET_RATIO} with the default floor): "
                  f"{'met' if met else 'missed'}")  # fmt: skip
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

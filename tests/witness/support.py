"""Helpers of the witness tests (``tests.witness.support``): synthetic logs and a clock.

A :class:`SyntheticLog` is what a log would be to its witness: leaves hashed with
the audit package's Merkle module, checkpoints signed with an Ed25519 note key
(as the log signs them), consistency proofs between any two sizes. Two logs
built with the same origin and key but different leaves are a fork.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.merkle import consistency_proof, leaf_hash, root_from_leaf_hashes
from servinfo.audit.note import Ed25519NoteSigner, sign_note
from servinfo.audit.witness_protocol import AddCheckpointRequest

ORIGIN = "log.example/servinfo-test"
#: A fixed time for cosignatures (2026-01-01T00:00:00Z).
T0 = 1_767_225_600


class FakeClock:
    """Seconds since the epoch, passed in; tests move it with :meth:`advance`."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


class SyntheticLog:
    """An append-only log of synthetic leaves that signs checkpoints as a real log would."""

    def __init__(
        self,
        origin: str = ORIGIN,
        key: Ed25519PrivateKey | None = None,
        *,
        seed: str = "main",
    ) -> None:
        self.origin = origin
        self.key = key or Ed25519PrivateKey.generate()
        self.signer = Ed25519NoteSigner(origin, self.key)
        self.seed = seed
        self.leaves: list[bytes] = []

    @property
    def vkey(self) -> str:
        return self.signer.vkey()

    @property
    def size(self) -> int:
        return len(self.leaves)

    def append(self, count: int) -> SyntheticLog:
        start = len(self.leaves)
        self.leaves += [
            leaf_hash(f"{self.seed} entry {i}".encode()) for i in range(start, start + count)
        ]
        return self

    def fork(self, at: int, *, seed: str = "fork") -> SyntheticLog:
        """The same origin and key, the same first ``at`` leaves, then different ones."""
        other = SyntheticLog(self.origin, self.key, seed=seed)
        other.leaves = self.leaves[:at]
        return other

    def root(self, size: int | None = None) -> bytes:
        return root_from_leaf_hashes(self.leaves[: self.size if size is None else size])

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        size = self.size if size is None else size
        return Checkpoint(self.origin, size, self.root(size))

    def signed(self, size: int | None = None, *, signer: Ed25519NoteSigner | None = None) -> bytes:
        """The checkpoint at ``size`` (default: now) as a signed note."""
        return sign_note(self.checkpoint(size).body(), [signer or self.signer])

    def proof(self, old_size: int, size: int | None = None) -> tuple[bytes, ...]:
        size = self.size if size is None else size
        return tuple(consistency_proof(self.leaves[:size], old_size))

    def request(
        self, old_size: int, size: int | None = None, *, proof: tuple[bytes, ...] | None = None
    ) -> AddCheckpointRequest:
        """An add-checkpoint request from ``old_size`` to ``size`` with the right proof."""
        size = self.size if size is None else size
        return AddCheckpointRequest(
            old_size,
            self.proof(old_size, size) if proof is None else proof,
            self.signed(size),
        )


def origin_hash(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()


STARTED = "Application startup complete."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(directory: Path, log_file: Path, timeout: float = 60) -> Iterator[str]:
    """Run ``servinfo witness serve``; yield its URL once it accepts connections, then stop it."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "servinfo",
        "witness",
        "serve",
        "--dir",
        str(directory),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_file.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("SERVINFO_")},
        )
        try:
            deadline = time.monotonic() + timeout
            while STARTED not in log_file.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the witness did not start:\n{log_file.read_text()}")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

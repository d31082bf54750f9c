"""``servinfo witness serve`` as its own process: checkpoints over HTTP, state across a restart.

The deployment's client (:class:`WitnessClient`) talks to a real server on a
free loopback port. After the server is stopped and started again on the same
directory, it still remembers what it cosigned: a fork of the cosigned tree
and a proof from an old size are refused, and the log grows on from there.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests.witness.support import SyntheticLog, serving

from servinfo.audit.note import Note, NoteSignature, open_note, parse_vkey
from servinfo.audit.witness_client import WitnessClient, WitnessConflict, WitnessRefused
from servinfo.audit.witness_protocol import AddCheckpointRequest
from servinfo.witness.keys import KEY_FILE, WitnessKeys


def _cosigned_by_witness(
    directory: Path, log: SyntheticLog, cosignatures: list[NoteSignature]
) -> int:
    """How many of the answer's lines verify with the witness's published keys."""
    signed = Note.parse(log.signed())
    note = Note(signed.text, (*signed.signatures, *cosignatures)).to_bytes()
    verifiers = [parse_vkey(v) for v in WitnessKeys.read(directory / KEY_FILE).vkeys()]
    return len(open_note(note, verifiers)[1])


def _submit_together(url: str, request: AddCheckpointRequest, clients: int) -> list[object]:
    """``clients`` clients post ``request`` at once: "cosigned" or the size of each 409."""
    barrier = threading.Barrier(clients)
    outcomes: list[object] = []
    lock = threading.Lock()

    def submit() -> None:
        with WitnessClient(url) as client:
            barrier.wait()
            try:
                client.add_checkpoint(request)
                outcome: object = "cosigned"
            except WitnessConflict as conflict:
                outcome = conflict.size
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=submit) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.slow
def test_a_served_witness_cosigns_and_remembers_across_a_restart(
    witness_dir: Path, tmp_path: Path
) -> None:
    log = SyntheticLog().append(10)
    add_log = [
        *("servinfo", "witness", "add-log", "--dir", str(witness_dir)),
        *("--origin", log.origin, "--key", log.vkey),
    ]
    subprocess.run([sys.executable, "-m", *add_log], check=True, capture_output=True)

    with serving(witness_dir, tmp_path / "first.log") as url, WitnessClient(url) as client:
        assert _cosigned_by_witness(witness_dir, log, client.add_checkpoint(log.request(0))) == 2
        log.append(5)
        assert _cosigned_by_witness(witness_dir, log, client.add_checkpoint(log.request(10))) == 2
        # The same request from many clients at once: one is cosigned, the others get 409.
        log.append(3)
        outcomes = _submit_together(url, log.request(15), 8)
        assert sorted(outcomes, key=str) == [18] * 7 + ["cosigned"]

    with serving(witness_dir, tmp_path / "second.log") as url, WitnessClient(url) as client:
        fork = log.fork(12).append(6)
        with pytest.raises(WitnessRefused) as forked:
            client.add_checkpoint(fork.request(18, proof=()))
        assert forked.value.status == 422
        with pytest.raises(WitnessConflict) as stale:
            client.add_checkpoint(log.request(10))
        assert stale.value.size == 18
        log.append(5)
        assert _cosigned_by_witness(witness_dir, log, client.add_checkpoint(log.request(18))) == 2
        # By name: the client connects to the address it checked, naming the host in Host.
        by_name = url.replace("127.0.0.1", "witness.test")
        with WitnessClient(by_name, resolver=lambda host, port: ["127.0.0.1"]) as named:
            log.append(1)
            assert (
                _cosigned_by_witness(witness_dir, log, named.add_checkpoint(log.request(23))) == 2
            )

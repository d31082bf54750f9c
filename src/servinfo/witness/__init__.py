"""A transparency-log witness (``c2sp.org/tlog-witness``), run apart from any deployment.

A witness follows logs by origin and verifier key. When a log sends it a new
checkpoint with a consistency proof from the one it last cosigned, it checks
the log's signature and the proof, records the checkpoint, and returns its
cosignatures (``c2sp.org/tlog-cosignature``): ML-DSA-44 and Ed25519. It never
cosigns a smaller tree, a second root at a size it cosigned, or anything that
does not extend its state, so a log cannot show two histories to two clients
that both require this witness's cosignature. The parts::

    errors      one exception per protocol answer (400, 403, 404, 409, 422, 503)
    keys        the witness's keys: the file, the signature types and why both
    store       its SQLite state: the logs followed, compare-and-swap advances, evidence
    service     Witness.add_checkpoint: the rules of add-checkpoint, in order
    directory   init_witness / open_witness: the key file and state in one directory
    app         the Starlette application (POST /add-checkpoint, GET /)
    cli         ``servinfo witness …``

The names below are imported on first use, so importing this package (as
``servinfo witness --help`` does) loads none of the formats, the database or
the web framework.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servinfo.witness.app import create_app
    from servinfo.witness.directory import STATE_FILE, init_witness, open_witness
    from servinfo.witness.errors import (
        Inconsistent,
        RequestMalformed,
        SignatureRejected,
        SizeConflict,
        UnknownLog,
        WitnessBusy,
        WitnessError,
        WitnessSetupInvalid,
    )
    from servinfo.witness.keys import KEY_FILE, WitnessKeys
    from servinfo.witness.service import Witness
    from servinfo.witness.store import Evidence, LogState, TrustedLog, WitnessStore

__all__ = [
    "KEY_FILE",
    "STATE_FILE",
    "Evidence",
    "Inconsistent",
    "LogState",
    "RequestMalformed",
    "SignatureRejected",
    "SizeConflict",
    "TrustedLog",
    "UnknownLog",
    "Witness",
    "WitnessBusy",
    "WitnessError",
    "WitnessKeys",
    "WitnessSetupInvalid",
    "WitnessStore",
    "create_app",
    "init_witness",
    "open_witness",
]

_HOMES = {
    "create_app": "app",
    "STATE_FILE": "directory",
    "init_witness": "directory",
    "open_witness": "directory",
    "Inconsistent": "errors",
    "RequestMalformed": "errors",
    "SignatureRejected": "errors",
    "SizeConflict": "errors",
    "UnknownLog": "errors",
    "WitnessBusy": "errors",
    "WitnessError": "errors",
    "WitnessSetupInvalid": "errors",
    "KEY_FILE": "keys",
    "WitnessKeys": "keys",
    "Witness": "service",
    "Evidence": "store",
    "LogState": "store",
    "TrustedLog": "store",
    "WitnessStore": "store",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'servinfo.witness' has no attribute {name!r}")
    return getattr(importlib.import_module(f"servinfo.witness.{home}"), name)

"""A witness directory: the key file and the state database, and nothing of any deployment.

::

    <dir>/witness.key       the private keys and the name (mode 0600; see keys.py)
    <dir>/witness.sqlite    the logs followed and the last checkpoint cosigned (store.py)

The directory is created with mode 0700. A witness is meant to run apart from
the deployment it watches (another host, another operator): it shares no file,
setting or database with it, so whoever controls the deployment cannot rewrite
what the witness remembers.
"""

from __future__ import annotations

from pathlib import Path

from servinfo.witness.errors import WitnessSetupInvalid
from servinfo.witness.keys import KEY_FILE, WitnessKeys
from servinfo.witness.service import Clock, Witness, system_clock
from servinfo.witness.store import WitnessStore

__all__ = ["STATE_FILE", "init_witness", "open_witness"]

#: The state database's name inside the witness directory.
STATE_FILE = "witness.sqlite"


def init_witness(directory: Path, name: str) -> WitnessKeys:
    """Create a witness called ``name`` in ``directory``: fresh keys and empty state.

    Refuses (:class:`WitnessSetupInvalid`) a directory that already holds a key
    or a state file: a witness's key and memory are never replaced by accident.
    """
    try:
        keys = WitnessKeys.generate(name)
    except ValueError as error:
        raise WitnessSetupInvalid(str(error)) from None
    for existing in (directory / KEY_FILE, directory / STATE_FILE):
        if existing.exists():
            raise WitnessSetupInvalid(f"{directory} holds a witness already ({existing.name})")
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
    elif not directory.is_dir():
        raise WitnessSetupInvalid(f"{directory} is not a directory")
    keys.write(directory / KEY_FILE)
    WitnessStore.create(directory / STATE_FILE)
    return keys


def open_witness(directory: Path, *, clock: Clock = system_clock) -> Witness:
    """The witness kept in ``directory``; :class:`WitnessSetupInvalid` if there is none."""
    if not directory.is_dir():
        raise WitnessSetupInvalid(f"no witness directory {directory}: run 'servinfo witness init'")
    keys = WitnessKeys.read(directory / KEY_FILE)
    return Witness(WitnessStore(directory / STATE_FILE), keys, clock=clock)

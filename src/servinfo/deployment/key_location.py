"""Whether the master key lives apart from the data it protects.

A master key file inside the data directory goes wherever a copy of the
directory goes (a backup, a snapshot, a stolen disk image), and the copy then
decrypts itself. ``servinfo init --key-dir DIR`` puts the key elsewhere, and
``SERVINFO_MASTER_KEY`` keeps it out of every file; ``init`` and ``serve`` warn
when neither was done. The local demo (``make run``) says so explicitly with
``init --local-demo``, recorded as ``keys.local_demo`` in ``servinfo.toml``:
it is never guessed from the paths. The audit signer's state belongs with the
key material too (:mod:`servinfo.audit.signer`): with the key in the
environment, its default place is the data directory, and that is warned about.
"""

from __future__ import annotations

from collections.abc import Mapping

from servinfo.config import Settings
from servinfo.crypto import MASTER_KEY_ENV

__all__ = ["master_key_warning"]


def master_key_warning(settings: Settings, env: Mapping[str, str]) -> str | None:
    """One warning line when the master key file, or else the audit signer's state, sits inside
    the data directory; None when both are apart (or this is the local demo)."""
    if settings.local_demo:
        return None
    data_dir = settings.data_dir.resolve()
    if MASTER_KEY_ENV in env or not settings.master_key_file.resolve().is_relative_to(data_dir):
        if not settings.audit_signer_state_file.resolve().is_relative_to(data_dir):
            return None
        return (
            f"warning: the audit signer's state {settings.audit_signer_state_file} is inside the "
            "data directory: whoever can write the data could roll the audit log back with it; "
            "set audit.signer_state_file beside the key material (see docs/keys-and-recovery.md)"
        )
    return (
        f"warning: the master key {settings.master_key_file} is inside the data directory: "
        "a copy of the directory decrypts itself; keep the key apart (servinfo init "
        f"--key-dir, keys.master_key_file, or {MASTER_KEY_ENV}; see docs/keys-and-recovery.md)"
    )

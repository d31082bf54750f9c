"""The witness's own keys: one ML-DSA-44 and one Ed25519 cosigner key, under one name.

Which signature type. ``c2sp.org/tlog-cosignature`` says the ML-DSA-44 type
SHOULD be used for new deployments, and ``c2sp.org/tlog-witness`` that
witnesses SHOULD return ML-DSA-44 cosignatures: it resists quantum attacks and
its signed message commits to the cosigner's name. But the verifiers deployed
today (Go's ``sumdb/note`` tooling, sigstore, the public witness network's
clients) check Ed25519 ``cosignature/v1`` only. A witness holding only an
ML-DSA-44 key would be ignored by them; one holding only Ed25519 would ignore
the spec's recommendation and give no quantum-safe statement. The protocol
resolves the dilemma itself: add-checkpoint answers with one or more
signature lines and clients MUST ignore lines from keys they do not know. So
the witness holds both keys and returns both cosignatures on every checkpoint;
each client verifies the one it trusts, and an ecosystem moves to ML-DSA-44 by
changing its policy, not its witness. The cost is one ML-DSA-44 line (about
3.3 KB) per answer. The two key IDs differ (their type bytes 0x06 and 0x04
enter the hash), so one name serves both without ambiguity, and each witness
generates its own Ed25519 key, as the Ed25519 format (which does not commit
to the name) requires.

The key file. ``servinfo witness init`` writes both 32-byte seeds (FIPS 204
``xi`` and RFC 8032's private key) with the name to ``witness.key`` in the
witness directory, created with mode 0600 and refused when it is readable by
anyone but its owner, as ssh refuses a private key::

    servinfo witness key v1
    name witness.example/w1
    ml-dsa-44 <base64 of the 32-byte seed>
    ed25519 <base64 of the 32-byte private key>
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

from servinfo.audit.cosignature import Ed25519CosignatureSigner, MLDSA44CosignatureSigner
from servinfo.audit.note import is_valid_key_name
from servinfo.witness.errors import WitnessSetupInvalid

__all__ = ["KEY_FILE", "WitnessKeys", "check_name"]

#: The key file's name inside the witness directory.
KEY_FILE = "witness.key"
_HEADER = "servinfo witness key v1"
_SEED_SIZE = 32
#: The ML-DSA-44 signed message carries the name in a one-byte length prefix.
_MAX_NAME_BYTES = 255


def check_name(name: str) -> str:
    """``name`` if it can name a cosigner, else ``ValueError`` saying why.

    A signed-note key name is non-empty and has no Unicode space, no ``+`` and
    no control character (``c2sp.org/signed-note``); the ML-DSA-44 message
    limits it to 255 bytes.
    """
    if not is_valid_key_name(name):
        raise ValueError(f"a witness name is non-empty with no spaces and no '+', got {name!r}")
    if len(name.encode()) > _MAX_NAME_BYTES:
        raise ValueError(f"a witness name is at most {_MAX_NAME_BYTES} bytes")
    return name


@dataclass(frozen=True)
class WitnessKeys:
    """The witness's name and private keys, and the cosignature signers made from them."""

    name: str
    mldsa44: MLDSA44PrivateKey = field(repr=False)
    ed25519: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> WitnessKeys:
        """Fresh keys for a witness called ``name``."""
        return cls(check_name(name), MLDSA44PrivateKey.generate(), Ed25519PrivateKey.generate())

    def signers(self) -> tuple[MLDSA44CosignatureSigner, Ed25519CosignatureSigner]:
        """The cosigners, ML-DSA-44 first (the type the spec recommends)."""
        return (
            MLDSA44CosignatureSigner(self.name, self.mldsa44),
            Ed25519CosignatureSigner(self.name, self.ed25519),
        )

    def vkeys(self) -> list[str]:
        """The verifier keys a client configures to trust this witness, ML-DSA-44 first."""
        return [signer.vkey() for signer in self.signers()]

    def to_text(self) -> str:
        """The key file's contents (secret: see :meth:`write`)."""
        mldsa_seed = self.mldsa44.private_bytes_raw()
        ed_seed = self.ed25519.private_bytes_raw()
        return (
            f"{_HEADER}\nname {self.name}\n"
            f"ml-dsa-44 {base64.b64encode(mldsa_seed).decode()}\n"
            f"ed25519 {base64.b64encode(ed_seed).decode()}\n"
        )

    @classmethod
    def from_text(cls, text: str) -> WitnessKeys:
        """Keys from a key file's contents; ``ValueError`` naming the first bad line."""
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if len(lines) != 4 or lines[0] != _HEADER:
            raise ValueError(f"expected 4 lines starting {_HEADER!r}")
        fields: dict[str, str] = {}
        for number, line in enumerate(lines[1:], start=2):
            label, _, value = line.partition(" ")
            if label not in ("name", "ml-dsa-44", "ed25519") or label in fields or not value:
                raise ValueError(f"line {number}: expected 'name', 'ml-dsa-44' or 'ed25519'")
            fields[label] = value
        return cls(
            check_name(fields["name"]),
            MLDSA44PrivateKey.from_seed_bytes(_seed(fields["ml-dsa-44"], "ml-dsa-44")),
            Ed25519PrivateKey.from_private_bytes(_seed(fields["ed25519"], "ed25519")),
        )

    def write(self, path: Path) -> None:
        """Create ``path`` with mode 0600 and write the keys; refuse to overwrite a file."""
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise WitnessSetupInvalid(f"a witness key exists already at {path}") from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
            # The mode given to open is narrowed by the umask only; make it exact.
            os.fchmod(sink.fileno(), 0o600)
            sink.write(self.to_text())
            sink.flush()
            os.fsync(sink.fileno())

    @classmethod
    def read(cls, path: Path) -> WitnessKeys:
        """The keys in ``path``; :class:`WitnessSetupInvalid` if missing, bad or not private."""
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise WitnessSetupInvalid(
                f"no witness key at {path}: run 'servinfo witness init'"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise WitnessSetupInvalid(
                f"witness key {path} has mode {stat.S_IMODE(mode):o}, expected 600 "
                f"(chmod 600 {path.name})"
            )
        try:
            return cls.from_text(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise WitnessSetupInvalid(f"witness key {path} is not valid: {error}") from None


def _seed(value: str, label: str) -> bytes:
    try:
        seed = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError(f"the {label} key is not base64") from None
    if len(seed) != _SEED_SIZE:
        raise ValueError(f"the {label} key is {len(seed)} bytes, expected {_SEED_SIZE}")
    return seed

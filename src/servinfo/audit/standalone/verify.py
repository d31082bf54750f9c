"""Check an access history or an erasure receipt from servinfo, with nothing but this file.

Usage::

    python verify.py [PATH]

PATH is an access export (the ZIP, or the directory it was extracted to) or an
erasure receipt (a JSON file). Without PATH: the directory this file is in when
it holds ``history/``, else the one ZIP beside this file. It needs Python 3.11
or later and the ``cryptography`` package (``pip install cryptography``), and no
network: everything it checks is in the export or the receipt.

Exit status: 0 and one line saying what was verified; 1 and one line naming
the first thing that does not verify; 2 when PATH cannot be read.

What is checked (the formats are in servinfo's docs/audit.md):

- the trust policy (C2SP tlog-policy) parses: the log's key, the witnesses' keys,
  the quorum;
- the checkpoint (C2SP tlog-checkpoint, a C2SP signed note) is signed by the log
  and cosigned by enough witnesses to meet the quorum (C2SP tlog-cosignature:
  Ed25519 ``cosignature/v1``; ML-DSA-44 ``subtree/v1`` when this ``cryptography``
  has ML-DSA, otherwise such cosignatures are not counted);
- each entry is in the log: its proof (C2SP tlog-proof) leads from the entry's
  hash to the checkpoint's root (RFC 6962 / RFC 9162 Merkle tree, SHA-256);
- an access history: every entry names one of your pseudonyms, each identifier's
  reference is HMAC-SHA256(reference key, identifier)[:16], and the index of each
  line, of its proof and of its entry agree;
- an erasure receipt: the entry is the erasure of the receipt's request (format 2
  entries hold its reference) and logged the kinds of data the receipt says were kept.

Why it stands alone: servinfo's own package implements these formats
(``servinfo/audit/note.py``, ``checkpoint.py``, ``cosignature.py``,
``policy.py``, ``tlog_proof.py``, ``merkle.py``). This file re-implements them,
deliberately, so that checking your history means trusting no servinfo code
beyond this one file, short enough to read. servinfo's tests run both on the
same inputs, valid and tampered, and require the same answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - servinfo itself depends on cryptography
    print(
        "verify.py needs the Python package cryptography: pip install cryptography", file=sys.stderr
    )
    raise SystemExit(2) from None

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Checkpoint",
    "Policy",
    "Proof",
    "Receipt",
    "Refused",
    "Verified",
    "check_history",
    "check_receipt",
    "main",
    "parse_checkpoint",
    "parse_note",
    "parse_policy",
    "parse_proof",
    "read_history",
    "reference",
    "verify_checkpoint",
    "verify_inclusion",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

MAX_FILE_SIZE = 256 << 20  # no file of an export comes near this
MAX_NOTE_SIZE = 1 << 20
MAX_SIGNATURES = 100
MAX_POLICY_ENTRIES = 256
MAX_PROOF_HASHES = 64  # a tree of at most 2^64 - 1 leaves
MAX_TREE_SIZE = 2**64 - 1
MAX_TIMESTAMP = 2**63 - 1

RECEIPT_FORMAT = "servinfo-erasure-receipt/1"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
HISTORY = ("history/entries.jsonl", "history/trust-policy.txt", "history/checkpoint.txt",
           "history/subject.json")  # fmt: skip

# Signature types (C2SP signed-note, tlog-cosignature).
ED25519, COSIGNATURE_ED25519, COSIGNATURE_MLDSA44 = 0x01, 0x04, 0x06
LOG_TYPES, WITNESS_TYPES = (
    (ED25519, COSIGNATURE_MLDSA44),
    (COSIGNATURE_ED25519, COSIGNATURE_MLDSA44),
)

_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # any control character but the newline
_POLICY_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Go's unicode.IsSpace, which signed-note key names may not contain.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_KEYWORDS = frozenset({"log", "witness", "group", "quorum", "any", "all"})


class Refused(Exception):
    """The input does not verify; the message is the one line to show."""


# -- encodings -------------------------------------------------------------------------


def _b64(value: str, what: str) -> bytes:
    """Strict standard base64: padded, canonical (one encoding per value)."""
    if _BASE64.fullmatch(value) is None:
        raise Refused(f"{what} is not standard base64: {_quote(value)}")
    raw = base64.b64decode(value)
    if base64.b64encode(raw).decode() != value:
        raise Refused(f"{what} is not canonical base64: {_quote(value)}")
    return raw


def _quote(value: str) -> str:
    """A short, printable quotation of untrusted input."""
    shown = repr(value[:40])
    return shown + "…" if len(value) > 40 else shown


def _encode(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(f"{what} is not UTF-8") from None


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{what} is not UTF-8") from None


# -- signed notes and keys (C2SP signed-note) ------------------------------------------


@dataclass(frozen=True)
class Key:
    """A verifier key ``<name>+<hex key ID>+base64(type || public key)``."""

    name: str
    key_id: bytes
    type: int
    public: bytes


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c in _SPACES for c in name)


def parse_key(vkey: str) -> Key:
    """A verifier key, its ID checked: ``SHA-256(name || "\\n" || type || key)[:4]``."""
    name, _, rest = vkey.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if not _valid_name(name) or re.fullmatch(r"[0-9a-f]{8}", hex_id) is None:
        raise Refused(f"malformed verifier key {_quote(vkey)}")
    raw = _b64(encoded, "verifier key")
    if len(raw) < 2:
        raise Refused(f"verifier key has no key material: {_quote(vkey)}")
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] != bytes.fromhex(hex_id):
        raise Refused(f"verifier key's ID does not match its name and key: {_quote(vkey)}")
    return Key(name, bytes.fromhex(hex_id), raw[0], raw[1:])


def parse_note(data: bytes) -> tuple[bytes, list[tuple[str, bytes, bytes]]]:
    """A signed note's text and its signatures ``(key name, key ID, signature)``.

    The text ends at the last blank line; each line after it is ``— <name> <base64>``.
    """
    if len(data) > MAX_NOTE_SIZE:
        raise Refused(f"note of {len(data)} bytes is too large")
    if _CONTROL.search(_utf8(data, "note")) is not None:
        raise Refused("note contains a control character")
    split = data.rfind(b"\n\n")
    if split < 0:
        raise Refused("note has no blank line before its signatures")
    text, block = data[: split + 1], data[split + 2 :]
    if not block.endswith(b"\n"):
        raise Refused("note's signature block is empty or lacks its final newline")
    lines = block[:-1].decode().split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise Refused(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        name, _, encoded = line.removeprefix("— ").partition(" ")
        if not line.startswith("— ") or not _valid_name(name):
            raise Refused(f"malformed signature line {_quote(line)}")
        raw = _b64(encoded, "signature")
        if len(raw) <= 4:
            raise Refused(f"signature of {len(raw)} bytes is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return text, signatures


# -- checkpoints (C2SP tlog-checkpoint) ------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's statement: under ``origin``, the tree of ``size`` entries has this root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_checkpoint(text: bytes) -> Checkpoint:
    """Origin, tree size (decimal, no leading zero), root hash (base64 of 32 bytes), extensions."""
    decoded = _utf8(text, "checkpoint")
    if not decoded.endswith("\n"):
        raise Refused("checkpoint does not end in a newline")
    lines = decoded[:-1].split("\n")
    if len(lines) < 3:
        raise Refused(f"checkpoint has {len(lines)} lines, expected at least 3")
    origin, size, root, *extensions = lines
    if not origin or not all(extensions) or _CONTROL.search(decoded) is not None:
        raise Refused("checkpoint has an empty line or a control character")
    if _DECIMAL.fullmatch(size) is None or int(size) > MAX_TREE_SIZE:
        raise Refused(f"checkpoint's tree size is not a decimal: {_quote(size)}")
    root_hash = _b64(root, "checkpoint's root hash")
    if len(root_hash) != 32:
        raise Refused(f"checkpoint's root hash has {len(root_hash)} bytes, expected 32")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


# -- signatures ------------------------------------------------------------------------


def _ed25519(public: bytes, signature: bytes, message: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _mldsa44(public: bytes, signature: bytes, message: bytes) -> bool | None:
    """Whether an ML-DSA-44 signature verifies; None when this cryptography has no ML-DSA."""
    try:
        from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PublicKey
    except ImportError:
        return None
    try:
        MLDSA44PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _mldsa44_subtree(key: Key, text: bytes, timestamp: int, signature: bytes) -> bool | None:
    """ML-DSA-44 ``subtree/v1``: the signed message is binary, the subtree [0, size)."""
    checkpoint = parse_checkpoint(text)
    name, origin = key.name.encode(), checkpoint.origin.encode()
    if len(origin) > 255:
        return False
    message = b"".join([
        b"subtree/v1\n\x00", bytes([len(name)]), name, timestamp.to_bytes(8, "big"),
        bytes([len(origin)]), origin, bytes(8), checkpoint.size.to_bytes(8, "big"),
        checkpoint.root,
    ])  # fmt: skip
    return _mldsa44(key.public, signature, message)


def _check_signature(key: Key, text: bytes, signature: bytes) -> int | None:
    """The time a verified signature by ``key`` over the note ``text`` vouches for.

    A log's plain Ed25519 signature has no time: 0. None when the signature cannot be
    checked here (ML-DSA-44 without ML-DSA in cryptography): it is not counted.
    Refused when it does not verify.
    """
    timestamp = int.from_bytes(signature[:8], "big")
    ok: bool | None
    if key.type == ED25519:
        ok, timestamp = _ed25519(key.public, signature, text), 0
    elif len(signature) <= 8 or timestamp > MAX_TIMESTAMP:
        ok = False
    elif key.type == COSIGNATURE_ED25519:
        message = b"cosignature/v1\ntime %d\n" % timestamp + text
        ok = _ed25519(key.public, signature[8:], message)
    else:
        ok = _mldsa44_subtree(key, text, timestamp, signature[8:])
    if ok is None:
        return None
    if not ok:
        raise Refused(f"checkpoint: the signature of {_quote(key.name)} does not verify")
    return timestamp


# -- trust policies (C2SP tlog-policy) -------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The logs and witnesses to trust, and the quorum: a witness or group name, or none."""

    logs: tuple[Key, ...]
    witnesses: Mapping[str, Key]
    groups: Mapping[str, tuple[int, tuple[str, ...]]]  # name: (threshold, members), in order
    quorum: str

    def is_quorum(self, cosigned: set[str]) -> bool:
        """Groups only name what is defined above them, so one pass in order decides."""
        met = {name: name in cosigned for name in self.witnesses}
        met["none"] = True
        for name, (threshold, members) in self.groups.items():
            met[name] = sum(met[m] for m in members) >= threshold
        return met[self.quorum]


def parse_policy(text: str) -> Policy:
    """``log <vkey> [url]``, ``witness <name> <vkey> [url]``, ``group <name> all|any|<k>
    <member>...``, ``quorum <name>|none``; names are defined before they are used."""
    if len(_encode(text, "trust policy")) > MAX_NOTE_SIZE:
        raise Refused("trust policy is too large")
    logs: list[Key] = []
    witnesses: dict[str, Key] = {}
    groups: dict[str, tuple[int, tuple[str, ...]]] = {}
    quorum = None
    for number, raw in enumerate(text.split("\n"), start=1):
        try:
            if _POLICY_FORBIDDEN.search(raw) is not None:
                raise Refused("control character")
            line = raw.strip(" \t")
            if not line or line.startswith("#"):
                continue
            keyword, *args = re.split(r"[ \t]+", line)
            if keyword == "log" and len(args) in (1, 2):
                logs.append(_policy_key(args[0], LOG_TYPES))
            elif keyword == "witness" and len(args) in (2, 3):
                _new_name(args[0], witnesses, groups)
                witnesses[args[0]] = _policy_key(args[1], WITNESS_TYPES)
            elif keyword == "group" and len(args) >= 3:
                name, amount, members = args[0], args[1], tuple(args[2:])
                _new_name(name, witnesses, groups)
                groups[name] = (_threshold(amount, members, witnesses, groups), members)
            elif keyword == "quorum" and len(args) == 1 and quorum is None:
                if args[0] != "none" and args[0] not in witnesses and args[0] not in groups:
                    raise Refused(f"quorum names {_quote(args[0])}, not defined above it")
                quorum = args[0]
            else:
                raise Refused(f"cannot read a line starting {_quote(keyword)}")
        except Refused as refused:
            raise Refused(f"trust policy line {number}: {refused}") from None
    if quorum is None:
        raise Refused("trust policy has no quorum line")
    for keys, what in ((logs, "logs"), (list(witnesses.values()), "witnesses")):
        if len({k.public for k in keys}) != len(keys):
            raise Refused(f"trust policy lists two {what} with the same public key")
    if max(len(logs), len(witnesses), len(groups)) > MAX_POLICY_ENTRIES:
        raise Refused(f"trust policy has more than {MAX_POLICY_ENTRIES} logs, witnesses or groups")
    return Policy(tuple(logs), witnesses, groups, quorum)


def _policy_key(vkey: str, types: tuple[int, ...]) -> Key:
    key = parse_key(vkey)
    if key.type not in types:
        raise Refused(f"key type 0x{key.type:02x} is not one of {', '.join(map(hex, types))}")
    if key.type in (ED25519, COSIGNATURE_ED25519) and len(key.public) != 32:
        raise Refused(f"an Ed25519 key has 32 bytes, got {len(key.public)}")
    if key.type == COSIGNATURE_MLDSA44 and (
        len(key.public) != 1312 or len(key.name.encode()) > 255
    ):
        raise Refused("an ML-DSA-44 key has 1312 bytes and a name of at most 255")
    return key


def _new_name(name: str, *defined: Mapping[str, object]) -> None:
    if name.startswith("#") or name == "none" or name in _KEYWORDS:
        raise Refused(f"{_quote(name)} cannot be a name")
    if any(name in names for names in defined):
        raise Refused(f"name {_quote(name)} is defined twice")


def _threshold(amount: str, members: tuple[str, ...], *defined: Mapping[str, object]) -> int:
    if len(set(members)) != len(members) or len(members) > 256:
        raise Refused("a group lists a member twice, or more than 256")
    for member in members:
        if not any(member in names for names in defined):
            raise Refused(f"group member {_quote(member)} is not defined above it")
    if amount in ("all", "any"):
        return len(members) if amount == "all" else 1
    if re.fullmatch(r"[1-9][0-9]{0,2}", amount) is None or int(amount) > len(members):
        raise Refused(f"group threshold {_quote(amount)} is not all, any, 1..{len(members)}")
    return int(amount)


# -- checking a checkpoint against the policy ------------------------------------------


@dataclass(frozen=True)
class Verified:
    """A checkpoint the policy accepted, and which witnesses cosigned it (name: time)."""

    checkpoint: Checkpoint
    note: bytes
    cosigned: Mapping[str, int]
    policy: Policy

    def describe(self) -> str:
        c, p = self.checkpoint, self.policy
        where = f"checkpoint {c.origin} size {c.size}"
        if not p.witnesses:
            return f"{where}, signed by the log but not witnessed (quorum none)"
        return (
            f"{where}, cosigned by {len(self.cosigned)} of {len(p.witnesses)} witnesses "
            f"(quorum {p.quorum})"
        )


def verify_checkpoint(note: bytes, policy: Policy) -> Verified:
    """The note is a checkpoint signed by a log of the policy and meets its quorum."""
    # (1) The note and its text parse.
    text, signatures = parse_note(note)
    checkpoint = parse_checkpoint(text)
    # (2) Its origin is a log of the policy.
    logs = [key for key in policy.logs if key.name == checkpoint.origin]
    if not logs:
        raise Refused(f"checkpoint's origin {_quote(checkpoint.origin)} is not a log of the policy")
    # (3) Every signature by a key of the policy verifies; one of them is a log's.
    known: dict[tuple[str, bytes], tuple[str | None, Key]] = {}
    for witness, key in [*((None, k) for k in logs), *policy.witnesses.items()]:
        if (key.name, key.key_id) in known:
            raise Refused(f"two keys of the policy are both {_quote(key.name)}+{key.key_id.hex()}")
        known[key.name, key.key_id] = (witness, key)
    signed_by_log: Key | None = None
    cosigned: dict[str, int] = {}
    seen: set[tuple[str, bytes]] = set()
    for name, key_id, signature in signatures:
        if (name, key_id) not in known or (name, key_id) in seen:
            continue  # unknown keys are ignored; a repeated signature counts once
        seen.add((name, key_id))
        witness, key = known[name, key_id]
        timestamp = _check_signature(key, text, signature)
        if timestamp is None:
            continue
        if witness is None:
            signed_by_log = key
        else:
            cosigned[witness] = timestamp
    if signed_by_log is None:
        raise Refused(f"checkpoint is not signed by the log {_quote(checkpoint.origin)}")
    if checkpoint.extensions and signed_by_log.type == COSIGNATURE_MLDSA44:
        raise Refused("checkpoint has extension lines its log's ML-DSA-44 signature does not cover")
    # (4) The witnesses whose cosignatures verified meet the quorum.
    if not policy.is_quorum(set(cosigned)):
        raise Refused(
            f"checkpoint size {checkpoint.size}: quorum {_quote(policy.quorum)} not met by "
            f"the {len(cosigned)} valid cosignature(s)"
        )
    return Verified(checkpoint, note, cosigned, policy)


# -- Merkle trees (RFC 6962, RFC 9162 section 2.1) -------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: ``proof`` leads from leaf ``index`` of ``size`` to ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


# -- proofs (C2SP tlog-proof) ----------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """An entry's index, its inclusion proof, and the signed checkpoint it leads to."""

    index: int
    hashes: list[bytes]
    checkpoint: bytes  # the signed note, verbatim
    extra: bytes | None


def parse_proof(text: str) -> Proof:
    """Header, optional ``extra <base64>``, ``index <n>``, hashes, blank line, checkpoint."""
    head, blank, note = text.partition("\n\n")
    lines = head.split("\n")
    if not blank or lines[0] != PROOF_HEADER:
        raise Refused(f"proof does not start with {PROOF_HEADER} or has no checkpoint")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _b64(rest.pop(0)[6:], "proof's extra data")
    index = rest.pop(0)[6:] if rest and rest[0].startswith("index ") else ""
    if _DECIMAL.fullmatch(index) is None or int(index) > MAX_TREE_SIZE - 1:
        raise Refused("proof's index line is missing or not a decimal")
    if len(rest) > MAX_PROOF_HASHES:
        raise Refused(f"proof has more than {MAX_PROOF_HASHES} hashes")
    hashes = [_b64(line, "proof hash") for line in rest]
    if any(len(h) != 32 for h in hashes):
        raise Refused("a proof hash does not have 32 bytes")
    return Proof(int(index), hashes, _encode(note, "proof"), extra)


def _check_entry(entry: str, proof: Proof, verified: Verified) -> dict[str, Any]:
    """The entry is the leaf at the proof's index, and its ``seq`` is that index."""
    data = _encode(entry, "entry")
    c = verified.checkpoint
    if not verify_inclusion(proof.index, c.size, leaf_hash(data), proof.hashes, c.root):
        raise Refused("inclusion proof does not match the checkpoint")
    fields = _json(data, "entry")
    if not isinstance(fields, dict) or fields.get("seq") != proof.index:
        raise Refused(f"the entry's seq is not the proof's index {proof.index}")
    return fields


# -- the access history ----------------------------------------------------------------


def reference(key: bytes, identifier: str) -> str:
    """How entries name an identifier: HMAC-SHA256(key, identifier)[:16], in hex."""
    return hmac.new(key, identifier.encode("utf-8"), hashlib.sha256).digest()[:16].hex()


def check_history(files: Mapping[str, bytes]) -> str:
    """Check an access history (``history/*`` of the export); the summary line, or Refused."""
    missing = [name for name in HISTORY if name not in files]
    if missing:
        raise Refused(f"the export has no {missing[0]}")
    policy = parse_policy(_utf8(files["history/trust-policy.txt"], "trust policy"))
    note = files["history/checkpoint.txt"]
    verified = verify_checkpoint(note, policy)
    pseudonyms, withheld = _check_subject(files["history/subject.json"])
    count, last = 0, -1
    for number, line in enumerate(files["history/entries.jsonl"].split(b"\n"), start=1):
        if not line.strip():
            continue
        item = _json(line, f"line {number} of entries.jsonl")
        if not isinstance(item, dict):
            item = {}
        index, entry, proof_text = item.get("index"), item.get("entry"), item.get("proof")
        if type(index) is not int or not isinstance(entry, str) or not isinstance(proof_text, str):
            raise Refused(f"line {number} of entries.jsonl is not an index, entry and proof")
        try:
            if index <= last:
                raise Refused(f"comes after entry {last}: the lines are not in index order")
            proof = parse_proof(proof_text)
            if proof.index != index:
                raise Refused(f"its proof is for entry {proof.index}")
            if proof.checkpoint != note:
                raise Refused("its proof is against another checkpoint than checkpoint.txt")
            fields = _check_entry(entry, proof, verified)
            if fields.get("subject_pseudonym") not in pseudonyms:
                raise Refused("names a subject pseudonym that is not one of yours")
        except Refused as refused:
            raise Refused(f"entry {index}: {refused}") from None
        count, last = count + 1, index
    summary = f"OK: {count} entries about you verified against {verified.describe()}"
    if withheld:
        summary += f"; information withheld on ground(s): {', '.join(withheld)}"
    return summary


def _check_subject(data: bytes) -> tuple[set[str], list[str]]:
    """Your pseudonyms and the grounds of withheld information; each reference recomputed."""
    subject = _json(data, "subject.json")
    if not isinstance(subject, dict):
        raise Refused("subject.json is not an object")
    pseudonyms, key = subject.get("pseudonyms"), subject.get("reference_key")
    identifiers, withheld = subject.get("identifiers"), subject.get("withheld", [])
    if not isinstance(pseudonyms, list) or not all(isinstance(p, str) for p in pseudonyms):
        raise Refused("subject.json: pseudonyms is not a list of strings")
    if not isinstance(key, str) or re.fullmatch(r"[0-9a-f]{64}", key) is None:
        raise Refused("subject.json: reference_key is not 32 bytes in hex")
    if not isinstance(identifiers, list) or not isinstance(withheld, list):
        raise Refused("subject.json: identifiers and withheld are not lists")
    for number, item in enumerate(identifiers, start=1):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("reference", "kind", "id")
        ):
            raise Refused(f"subject.json: identifier {number} is not a reference, kind and id")
        if reference(bytes.fromhex(key), item["id"]) != item["reference"]:
            raise Refused(
                f"identifier {number} ({_quote(item['kind'])}): its reference "
                f"{_quote(item['reference'])} is not the one the reference key gives"
            )
    grounds = [g.get("ground") for g in withheld if isinstance(g, dict)]
    if len(grounds) != len(withheld) or not all(isinstance(g, str) for g in grounds):
        raise Refused("subject.json: withheld is not a list of grounds")
    return set(pseudonyms), [str(g) for g in grounds]


# -- the erasure receipt ---------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """A verified erasure receipt: the shred entry's index, the checkpoint, what was kept."""

    index: int
    verified: Verified
    kept_kinds: tuple[str, ...]
    policy_text: str  # the trust policy it was checked against

    def summary(self) -> str:
        kept = ", ".join(self.kept_kinds) or "nothing"
        return (
            f"OK: erasure receipt verified: the erasure is entry {self.index} of the log, "
            f"against {self.verified.describe()}; kept: {kept}"
        )


def check_receipt(data: bytes, policy_text: str | None = None) -> Receipt:
    """Check an erasure receipt, against ``policy_text`` if given, else its own trust policy."""
    receipt = _json(data, "receipt")
    if not isinstance(receipt, dict) or receipt.get("format") != RECEIPT_FORMAT:
        raise Refused(f"not an erasure receipt (format {RECEIPT_FORMAT})")
    fields = ("entry", "proof", "trust_policy", "request_reference", "issued_at")
    if not all(isinstance(receipt.get(k), str) for k in fields):
        raise Refused(f"receipt lacks one of {', '.join(fields)}")
    kept = receipt.get("kept")
    if not isinstance(kept, list) or not all(
        isinstance(k, dict) and isinstance(k.get("kind"), str) for k in kept
    ):
        raise Refused("receipt: kept is not a list of kept kinds")
    if _HEX32.fullmatch(receipt["request_reference"]) is None:
        raise Refused("receipt: request_reference is not 16 bytes in hex")
    policy_text = receipt["trust_policy"] if policy_text is None else policy_text
    policy = parse_policy(policy_text)
    proof = parse_proof(receipt["proof"])
    verified = verify_checkpoint(proof.checkpoint, policy)
    try:
        entry = _check_entry(receipt["entry"], proof, verified)
    except Refused as refused:
        raise Refused(f"receipt entry {proof.index}: {refused}") from None
    # (1) The entry is the erasure of a subject.
    n, details, links = proof.index, entry.get("details"), entry.get("links", {})
    if entry.get("action") != "erasure" or not isinstance(details, dict):
        raise Refused(f"receipt: entry {n} is {_quote(str(entry.get('action')))}, not an erasure")
    if entry.get("outcome") not in ("shredded", "partially_shredded"):
        raise Refused(f"receipt: entry {n} does not say the data was shredded")
    if not isinstance(entry.get("subject_pseudonym"), str) or not isinstance(links, dict):
        raise Refused(f"receipt: entry {n} names no subject")
    # (2) Entries of format 2 hold the request's reference: it must be the receipt's.
    if links.get("request_id", receipt["request_reference"]) != receipt["request_reference"]:
        raise Refused(f"receipt: entry {n} is the erasure of another request")
    # (3) What the receipt says was kept is what the entry logged.
    recorded = details.get("kept_kinds")
    if not isinstance(recorded, str):
        raise Refused(f"receipt: entry {n} records no kept_kinds")
    logged = {k for k in recorded.split(",") if k}
    listed = {k["kind"] for k in kept}
    if listed != logged:
        raise Refused(
            f"receipt: kept lists {', '.join(sorted(listed)) or 'nothing'}, the erasure entry "
            f"logged {', '.join(sorted(logged)) or 'nothing'}"
        )
    return Receipt(proof.index, verified, tuple(sorted(logged)), policy_text)


# -- reading the input -----------------------------------------------------------------


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise Refused(f"{what} is not JSON") from None


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_SIZE:
        raise Refused(f"{path.name} is larger than {MAX_FILE_SIZE >> 20} MiB")
    return path.read_bytes()


def read_history(path: Path) -> dict[str, bytes]:
    """The history files of an export: a ZIP, or the directory it was extracted to."""
    if path.is_dir():
        return {name: _read(path / name) for name in HISTORY if (path / name).is_file()}
    files = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename not in HISTORY:
                    continue
                # The declared size bounds what zipfile will inflate.
                if info.file_size > MAX_FILE_SIZE:
                    raise Refused(f"{info.filename} is larger than {MAX_FILE_SIZE >> 20} MiB")
                files[info.filename] = archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError):
        raise Refused(f"{path.name} is not a readable ZIP") from None
    return files


def _default_path() -> Path | None:
    """The folder this file is in when it holds history/, else the one ZIP beside this file."""
    here = Path(__file__).resolve().parent
    if (here / "history").is_dir():
        return here
    zips = sorted(here.glob("*.zip"))
    return zips[0] if len(zips) == 1 else None


def main(argv: list[str] | None = None) -> int:
    """Check PATH (see the module docstring); print one line; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    path = _default_path() if not args else Path(args[0]) if len(args) == 1 else None
    if path is None or args[:1] in (["-h"], ["--help"]):
        print(
            "usage: python verify.py [EXPORT.zip | EXPORT-FOLDER | RECEIPT.json]", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        if path.is_file() and not zipfile.is_zipfile(path):
            summary = check_receipt(_read(path)).summary()
        else:
            summary = check_history(read_history(path))
    except Refused as refused:
        print(f"FAILED: {refused}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:
        print(f"cannot read {path}: {error.strerror or type(error).__name__}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, UnicodeError, RecursionError, MemoryError) as error:
        # A check that did not name its failure: still a refusal, never a traceback.
        print(f"FAILED: malformed input ({type(error).__name__})", file=sys.stderr)
        return EXIT_FAILED
    print(summary)
    return EXIT_OK


if __name__ == "__main__":
    # Whatever the terminal's encoding, an origin or a name in a message cannot crash the print.
    sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    sys.stderr.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    sys.exit(main())

"""Trust policies of C2SP tlog-policy (https://c2sp.org/tlog-policy): which checkpoints to believe.

A policy lists the logs whose checkpoints are accepted, the witnesses whose
cosignatures count, and the *quorum*: the rule saying which sets of witnesses are
enough. An auditor holding a policy can check a checkpoint offline, and a log
split in two views cannot satisfy two auditors with the same policy unless the
quorum of witnesses signed both. The file is line based::

    # comments and blank lines are ignored; items are separated by spaces or tabs
    log <vkey> [<url>]                      the vkey's name is the log's origin
    witness <name> <vkey> [<url>]           the name is local to the policy
    group <name> all|any|<k> <name>...      k of the n members, each used once
    quorum <name>|none                      exactly once

A group or the quorum may only name witnesses and groups defined above it, which
also rules out cycles. Witnesses and groups share one namespace, and ``none`` is
predefined (a quorum of ``none`` asks for no cosignature). Two logs, or two
witnesses, may not wrap the same public key. Like transparency-dev's parser,
servinfo refuses the keywords (``log``, ``witness``, ``group``, ``quorum``,
``any``, ``all``) as names, and names starting with ``#`` (which that parser reads
as a comment), so a policy servinfo accepts means the same to both.

servinfo accepts log keys of type 0x01 (Ed25519) and 0x06 (ML-DSA-44), witness
keys of type 0x04 (Ed25519 ``cosignature/v1``) and 0x06 (ML-DSA-44
``subtree/v1``). The only characters allowed are tab, newline, printable ASCII and
octets above 0x7F, as the spec says; a missing final newline is tolerated. Limits:
1 MiB of text, 256 logs, 256 witnesses, 256 groups of at most 256 members.

:meth:`TrustPolicy.verify_checkpoint` is the whole check: the note parses, its
text is a checkpoint, a listed log for its origin signed it, every signature by a
listed key verifies, and the witnesses with valid cosignatures satisfy the quorum.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.cosignature import CosignatureVerifier
from servinfo.audit.errors import CheckpointInvalid, NoteInvalid, PolicyInvalid, QuorumNotMet
from servinfo.audit.note import (
    NO_KNOWN_SIGNATURE,
    SIG_COSIGNATURE_ED25519,
    SIG_COSIGNATURE_MLDSA44,
    SIG_ED25519,
    Note,
    NoteVerifier,
    decode_base64,
    excerpt,
    open_note,
    parse_vkey,
)

__all__ = [
    "MAX_GROUP_MEMBERS",
    "MAX_POLICY_ENTRIES",
    "MAX_POLICY_SIZE",
    "NONE",
    "PolicyGroup",
    "PolicyLog",
    "PolicyWitness",
    "TrustPolicy",
    "VerifiedCheckpoint",
]

#: The predefined name of the empty quorum.
NONE = "none"
#: The largest policy file accepted, in bytes of UTF-8.
MAX_POLICY_SIZE = 1 << 20
#: At most this many logs, witnesses and groups each (the spec recommends at least 32).
MAX_POLICY_ENTRIES = 256
#: At most this many members in one group.
MAX_GROUP_MEMBERS = 256

_LOG_TYPES = frozenset({SIG_ED25519, SIG_COSIGNATURE_MLDSA44})
_WITNESS_TYPES = frozenset({SIG_COSIGNATURE_ED25519, SIG_COSIGNATURE_MLDSA44})
# tab, newline, printable ASCII, and anything above 0x7F.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE = re.compile(r"[ \t]+")
_THRESHOLD = re.compile(r"[1-9][0-9]{0,2}")
_KEYWORDS = frozenset({"log", "witness", "group", "quorum", "any", "all"})


@dataclass(frozen=True)
class PolicyLog:
    """A log whose checkpoints are accepted; its vkey's name is its origin."""

    vkey: str
    verifier: NoteVerifier = field(compare=False)  # determined by the vkey
    url: str | None = None

    @property
    def origin(self) -> str:
        """The checkpoint origin this log signs for."""
        return self.verifier.name

    @property
    def key_type(self) -> int:
        """The signature type byte of the log's key (0x01 or 0x06)."""
        return _key_type_of_vkey(self.vkey)


@dataclass(frozen=True)
class PolicyWitness:
    """A witness, named locally to the policy, and the key of its cosignatures."""

    name: str
    vkey: str
    verifier: CosignatureVerifier = field(compare=False)  # determined by the vkey
    url: str | None = None


@dataclass(frozen=True)
class PolicyGroup:
    """At least ``threshold`` of ``members`` (witnesses or earlier groups) must have cosigned.

    ``keyword`` is ``"all"`` or ``"any"`` when the file said so, kept to write it back.
    """

    name: str
    threshold: int
    members: tuple[str, ...]
    keyword: str | None = None


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint a policy accepted, with who vouched for it.

    ``cosignatures`` maps each witness (by its policy name) whose cosignature
    verified to the cosignature's timestamp, in seconds since the epoch.
    """

    checkpoint: Checkpoint
    note: Note
    log_key_id: bytes
    cosignatures: dict[str, int]


@dataclass(frozen=True)
class TrustPolicy:
    """A parsed tlog-policy: logs, witnesses, groups and the quorum, in file order.

    Build one with :meth:`parse`; constructing it directly checks the same rules.
    """

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str

    def __post_init__(self) -> None:
        _check_structure(self.logs, self.witnesses, self.groups, self.quorum)

    @classmethod
    def parse(cls, text: str | bytes) -> TrustPolicy:
        """The policy a tlog-policy file states; :class:`PolicyInvalid` on any error.

        Bytes must be UTF-8 (the spec recommends it; servinfo requires it).
        """
        if isinstance(text, bytes):
            if len(text) > MAX_POLICY_SIZE:
                raise PolicyInvalid(f"policy of {len(text)} bytes exceeds {MAX_POLICY_SIZE}")
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise PolicyInvalid("policy is not valid UTF-8") from None
        if not isinstance(text, str):
            raise PolicyInvalid("a policy is text")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise PolicyInvalid("policy is not valid UTF-8") from None
        if size > MAX_POLICY_SIZE:
            raise PolicyInvalid(f"policy of {size} bytes exceeds {MAX_POLICY_SIZE}")
        bad = _FORBIDDEN.search(text)
        if bad is not None:
            line = text.count("\n", 0, bad.start()) + 1
            raise PolicyInvalid(f"line {line}: control character {bad.group()!r} in policy")
        return _Parser().parse(text)

    def to_text(self) -> str:
        """The policy as a tlog-policy file: logs, witnesses, groups, then the quorum."""
        lines = [_join("log", log.vkey, log.url) for log in self.logs]
        lines += [_join("witness", w.name, w.vkey, w.url) for w in self.witnesses]
        for group in self.groups:
            amount = group.keyword or str(group.threshold)
            lines.append(" ".join(["group", group.name, amount, *group.members]))
        lines.append(f"quorum {self.quorum}")
        return "\n".join(lines) + "\n"

    def log_verifiers(self, origin: str) -> list[NoteVerifier]:
        """The keys of the listed logs for ``origin``."""
        return [log.verifier for log in self.logs if log.origin == origin]

    def witness_verifiers(self) -> list[CosignatureVerifier]:
        """The keys of every listed witness."""
        return [witness.verifier for witness in self.witnesses]

    def is_quorum(self, witnesses: Iterable[str]) -> bool:
        """Whether these witnesses (policy names) together satisfy the quorum."""
        return _satisfied(self.quorum, frozenset(witnesses), self._groups_by_name())

    def verify_checkpoint(self, note_bytes: bytes) -> VerifiedCheckpoint:
        """Check a signed checkpoint against this policy; see the module docstring.

        Raises :class:`NoteInvalid` (malformed note, a listed key's signature fails,
        no listed log signed it), :class:`CheckpointInvalid` (the text is not a
        checkpoint, or its origin is not a listed log's) or :class:`QuorumNotMet`.
        """
        # (1) The note and its text parse.
        note = Note.parse(note_bytes)
        checkpoint = Checkpoint.from_body(note.text)
        # (2) The origin is a listed log's.
        logs = [log for log in self.logs if log.origin == checkpoint.origin]
        if not logs:
            raise CheckpointInvalid(
                f"origin {excerpt(checkpoint.origin)} is not a log of this policy"
            )
        # (3) Every signature by a listed key verifies (a failing one rejects the note).
        witnesses = {(w.verifier.name, w.verifier.key_id): w for w in self.witnesses}
        verifiers = [*(log.verifier for log in logs), *self.witness_verifiers()]
        try:
            _, verified = open_note(note_bytes, verifiers)
        except NoteInvalid as exc:
            if exc.message != NO_KNOWN_SIGNATURE:
                raise
            verified = []
        # (4) One of them is the log's.
        by_id = {(log.verifier.name, log.verifier.key_id): log for log in logs}
        signer = next(
            (by_id[s.name, s.key_id] for s in verified if (s.name, s.key_id) in by_id), None
        )
        if signer is None:
            raise NoteInvalid(
                f"checkpoint is not signed by a log of this policy for "
                f"origin {excerpt(checkpoint.origin)}"
            )
        if checkpoint.extensions and signer.key_type == SIG_COSIGNATURE_MLDSA44:
            raise CheckpointInvalid(
                "checkpoint has extension lines its log's ML-DSA-44 signature does not cover"
            )
        # (5) The witnesses whose cosignatures verified satisfy the quorum.
        cosignatures: dict[str, int] = {}
        for signature in verified:
            witness = witnesses.get((signature.name, signature.key_id))
            if witness is None:
                continue
            timestamp = witness.verifier.timestamp_of(note.text, signature.signature)
            if timestamp is not None:
                cosignatures[witness.name] = timestamp
        if not self.is_quorum(cosignatures):
            raise QuorumNotMet(
                f"quorum {excerpt(self.quorum)} not met by the {len(cosignatures)} "
                f"valid cosignature(s) of checkpoint {checkpoint.size}"
            )
        return VerifiedCheckpoint(checkpoint, note, signer.verifier.key_id, cosignatures)

    def _groups_by_name(self) -> Mapping[str, PolicyGroup]:
        return {group.name: group for group in self.groups}


class _Parser:
    """One pass over the lines; names must be defined before they are used."""

    def __init__(self) -> None:
        self.logs: list[PolicyLog] = []
        self.witnesses: list[PolicyWitness] = []
        self.groups: list[PolicyGroup] = []
        self.quorum: str | None = None
        self.defined: set[str] = set()

    def parse(self, text: str) -> TrustPolicy:
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.strip(" \t")
            if not line or line.startswith("#"):
                continue
            try:
                self._line(_WHITESPACE.split(line))
            except (PolicyInvalid, NoteInvalid) as exc:
                raise PolicyInvalid(f"line {number}: {exc.message}") from None
        if self.quorum is None:
            raise PolicyInvalid("policy has no quorum line")
        return TrustPolicy(tuple(self.logs), tuple(self.witnesses), tuple(self.groups), self.quorum)

    def _line(self, items: Sequence[str]) -> None:
        keyword, args = items[0], items[1:]
        if keyword == "log" and len(args) in (1, 2):
            self.logs.append(PolicyLog(args[0], _verifier(args[0], _LOG_TYPES), _url(args, 1)))
        elif keyword == "witness" and len(args) in (2, 3):
            verifier = _verifier(args[1], _WITNESS_TYPES)
            if not isinstance(verifier, CosignatureVerifier):  # pragma: no cover - by type
                raise PolicyInvalid("a witness key must be a cosignature key")
            self._define(args[0])
            self.witnesses.append(PolicyWitness(args[0], args[1], verifier, _url(args, 2)))
        elif keyword == "group" and len(args) >= 3:
            group = _group(args[0], args[1], tuple(args[2:]))
            _check_members(group, self.defined)
            self._define(group.name)
            self.groups.append(group)
        elif keyword == "quorum" and len(args) == 1:
            if self.quorum is not None:
                raise PolicyInvalid("a second quorum line")
            _check_quorum(args[0], self.defined)
            self.quorum = args[0]
        else:
            raise PolicyInvalid(f"cannot read a line starting {excerpt(keyword)}")

    def _define(self, name: str) -> None:
        """Names are checked as lines come, so a use must follow its definition."""
        _check_new_name(name, self.defined)
        self.defined.add(name)


def _check_structure(
    logs: Sequence[PolicyLog],
    witnesses: Sequence[PolicyWitness],
    groups: Sequence[PolicyGroup],
    quorum: str,
) -> None:
    """The rules that tie lines together; :class:`PolicyInvalid` at the first one broken."""
    if max(len(logs), len(witnesses), len(groups)) > MAX_POLICY_ENTRIES:
        raise PolicyInvalid(f"more than {MAX_POLICY_ENTRIES} logs, witnesses or groups")
    _check_unique_keys([log.vkey for log in logs], "logs")
    _check_unique_keys([w.vkey for w in witnesses], "witnesses")
    defined: set[str] = set()
    for witness in witnesses:
        _check_new_name(witness.name, defined)
        defined.add(witness.name)
    for group in groups:
        _check_members(group, defined)
        _check_new_name(group.name, defined)
        defined.add(group.name)
    _check_quorum(quorum, defined)


def _check_members(group: PolicyGroup, defined: set[str]) -> None:
    if not 1 <= group.threshold <= len(group.members) <= MAX_GROUP_MEMBERS:
        raise PolicyInvalid(f"group {excerpt(group.name)} needs 1 <= k <= n <= 256")
    if len(set(group.members)) != len(group.members):
        raise PolicyInvalid(f"group {excerpt(group.name)} lists a member twice")
    missing = [m for m in group.members if m not in defined]
    if missing:
        raise PolicyInvalid(
            f"group {excerpt(group.name)} names {excerpt(missing[0])}, "
            "not a witness or group defined before it"
        )


def _check_quorum(quorum: str, defined: set[str]) -> None:
    if quorum != NONE and quorum not in defined:
        raise PolicyInvalid(
            f"quorum names {excerpt(quorum)}, not a witness or group defined before it"
        )


def _check_new_name(name: str, defined: set[str]) -> None:
    if not name or _WHITESPACE.search(name) or name.startswith("#"):
        raise PolicyInvalid(f"invalid name {excerpt(name)}")
    if name == NONE:
        raise PolicyInvalid(f"{NONE!r} is predefined")
    if name in _KEYWORDS:
        raise PolicyInvalid(f"the keyword {name!r} cannot be a name")
    if name in defined:
        raise PolicyInvalid(f"name {excerpt(name)} is defined twice")


def _check_unique_keys(vkeys: Sequence[str], what: str) -> None:
    seen: set[bytes] = set()
    for vkey in vkeys:
        try:
            material = _key_material(vkey)
        except NoteInvalid as exc:
            raise PolicyInvalid(exc.message) from None
        if material in seen:
            raise PolicyInvalid(f"two {what} with the same public key ({excerpt(vkey)})")
        seen.add(material)


def _group(name: str, amount: str, members: tuple[str, ...]) -> PolicyGroup:
    if len(members) > MAX_GROUP_MEMBERS:
        raise PolicyInvalid(f"group {excerpt(name)} has more than {MAX_GROUP_MEMBERS} members")
    if NONE in members:
        raise PolicyInvalid(f"{NONE!r} cannot be a group member")
    if amount == "all":
        return PolicyGroup(name, len(members), members, "all")
    if amount == "any":
        return PolicyGroup(name, 1, members, "any")
    if _THRESHOLD.fullmatch(amount) is None or not 1 <= int(amount) <= len(members):
        raise PolicyInvalid(
            f"group {excerpt(name)}: threshold {excerpt(amount)} is not all, any, 1..{len(members)}"
        )
    return PolicyGroup(name, int(amount), members)


def _verifier(vkey: str, types: frozenset[int]) -> NoteVerifier:
    kind = _key_type_of_vkey(vkey)
    if kind not in types:
        allowed = ", ".join(f"0x{t:02x}" for t in sorted(types))
        raise PolicyInvalid(f"key type 0x{kind:02x} is not one of {allowed}")
    return parse_vkey(vkey)


def _key_type_of_vkey(vkey: str) -> int:
    raw = decode_base64(vkey.split("+", 2)[-1], what="verifier key")
    if not raw:
        raise PolicyInvalid(f"verifier key without key material: {excerpt(vkey)}")
    return raw[0]


def _key_material(vkey: str) -> bytes:
    """The public key a vkey wraps, whatever its name, ID and type."""
    return decode_base64(vkey.split("+", 2)[-1], what="verifier key")[1:]


def _url(args: Sequence[str], index: int) -> str | None:
    return args[index] if len(args) > index else None


def _join(*items: str | None) -> str:
    return " ".join(item for item in items if item is not None)


def _satisfied(name: str, witnessed: frozenset[str], groups: Mapping[str, PolicyGroup]) -> bool:
    if name == NONE:
        return True
    group = groups.get(name)
    if group is None:
        return name in witnessed
    count = sum(_satisfied(member, witnessed, groups) for member in group.members)
    return count >= group.threshold

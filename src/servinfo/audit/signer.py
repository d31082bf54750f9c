"""The checkpoint signer: it signs only trees that extend the last checkpoint it signed.

Whoever can write the control database could otherwise rewrite the log and
have the deployment sign the forgery: heads in the same database vouch for
nothing the database writer cannot also change. So the signer keeps its own
memory, :class:`SignerState`, in a file beside the key material (the key
source, not the data directory), holding the last checkpoint it signed: the
signed note and the compact range of that tree.

To sign the log at size N, :meth:`CheckpointSigner.sign` takes the file lock,
extends its own compact range with the stored leaf hashes from its size to N
and signs the root *that* gives. If the database's frontier disagrees, the
stored log no longer extends what was signed — rewritten, truncated, rolled
back or replaced — and it refuses with :class:`SignerRefused`. The state file
is replaced atomically (write, fsync, rename) before the checkpoint is handed
out, so a crash can lose a checkpoint row in the database but never sign two
different trees of one log.

Each checkpoint names the one before it in an extension line
(``servinfo-previous <size> <root>``), so a checkpoint deleted from the middle
of the database breaks the chain, and the state file names the latest: none
can go missing unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import AuditError, CheckpointInvalid, NoteInvalid
from servinfo.audit.merkle import CompactRange
from servinfo.audit.note import Note, NoteSigner, NoteVerifier, open_note, sign_note

__all__ = [
    "PREVIOUS",
    "CheckpointSigner",
    "SignerRefused",
    "SignerState",
    "SignerStateInvalid",
    "SignerUnavailable",
    "previous_of",
    "stored_origin",
]

#: The extension line naming the checkpoint before this one.
PREVIOUS = "servinfo-previous"
_PREVIOUS_LINE = re.compile(rf"{PREVIOUS} (0|[1-9][0-9]{{0,19}}) ([A-Za-z0-9+/]{{43}}=)")
_FORMAT = "servinfo-audit-signer"
_VERSION = 1
_MAX_STATE_BYTES = 1 << 20


class SignerRefused(AuditError):
    """The signer will not sign: the stored log does not extend its last checkpoint."""

    code = "audit_signer_refused"


class SignerUnavailable(AuditError):
    """The signer's state cannot be locked, read or written (a read-only or full disk)."""

    code = "audit_signer_unavailable"
    http_status = 503


class SignerStateInvalid(AuditError):
    """The signer's state file is unreadable, or is not the log key's."""

    code = "audit_signer_state_invalid"


@dataclass(frozen=True)
class SignerState:
    """The last checkpoint the signer signed: its note and the compact range of its tree."""

    origin: str
    frontier: CompactRange
    note: bytes

    @property
    def size(self) -> int:
        return self.frontier.size

    def to_bytes(self) -> bytes:
        document = {
            "format": _FORMAT,
            "version": _VERSION,
            "origin": self.origin,
            "frontier": base64.b64encode(self.frontier.to_bytes()).decode("ascii"),
            "note": self.note.decode("utf-8"),
        }
        return (json.dumps(document, sort_keys=True, indent=1) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(
        cls, data: bytes, verifiers: Sequence[NoteVerifier], *, where: str
    ) -> SignerState:
        """The state in ``data``, its note verified with one of ``verifiers``."""
        try:
            document = json.loads(data)
            if document.get("format") != _FORMAT or document.get("version") != _VERSION:
                raise ValueError("not a servinfo signer state, version 1")
            origin = document["origin"]
            frontier = CompactRange.from_bytes(
                base64.b64decode(document["frontier"], validate=True)
            )
            note_bytes = document["note"].encode("utf-8")
            if not isinstance(origin, str):
                raise ValueError("origin is not text")
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, RecursionError):
            raise SignerStateInvalid(f"the signer's state {where} is unreadable") from None
        try:
            note, _ = open_note(note_bytes, verifiers)
            checkpoint = Checkpoint.from_body(note.text)
        except (NoteInvalid, CheckpointInvalid):
            raise SignerStateInvalid(
                f"the signer's state {where} holds a checkpoint the log key did not sign"
            ) from None
        if (
            checkpoint.origin != origin
            or checkpoint.size != frontier.size
            or checkpoint.root_hash != frontier.root()
        ):
            raise SignerStateInvalid(
                f"the signer's state {where}: its checkpoint and its compact range disagree"
            )
        return cls(origin, frontier, note_bytes)


def previous_of(checkpoint: Checkpoint) -> tuple[int, bytes] | None:
    """The ``(size, root)`` a checkpoint names as the one signed before it, if any."""
    for line in checkpoint.extensions:
        match = _PREVIOUS_LINE.fullmatch(line)
        if match:
            return int(match[1]), base64.b64decode(match[2])
    return None


class CheckpointSigner:
    """Signs checkpoints of one log, never one that does not extend the last it signed.

    ``state_file`` lives beside the key material; its lock file (the same
    name with ``.lock``) serializes signers in every process of the deployment.
    """

    def __init__(
        self,
        state_file: Path,
        origin: str,
        signer: Callable[[], NoteSigner],
        verifiers: Callable[[], Sequence[NoteVerifier]],
    ) -> None:
        self._path = state_file
        self._origin = origin
        self._signer = signer
        self._verifiers = verifiers

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def state_file(self) -> Path:
        return self._path

    def state(self) -> SignerState | None:
        """The last checkpoint signed, or None before the first (no lock: for verification)."""
        return self._load()

    @contextmanager
    def session(self) -> Iterator[SignerState | None]:
        """Hold the signers' lock; yield the last checkpoint signed (None before the first)."""
        lock_path = self._path.with_name(self._path.name + ".lock")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise SignerUnavailable(
                f"cannot lock the signer's state {lock_path.name}: {error.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._load()
        finally:
            os.close(fd)  # closing releases the lock

    def sign(
        self,
        last: SignerState | None,
        leaf_hashes: Sequence[bytes],
        stored: CompactRange,
        *,
        extended: CompactRange | None = None,
    ) -> SignerState:
        """Sign the tree of ``last`` extended by ``leaf_hashes``; it must be ``stored``.

        Call inside :meth:`session`, with the state it yielded. ``leaf_hashes``
        are the stored leaves from ``last``'s size on; ``stored`` is the
        database's frontier at the end of them. ``extended``, instead of
        ``leaf_hashes``: that same tree, already computed in this process by
        extending a frontier equal to ``last``'s with the leaves it appended
        (:class:`servinfo.audit._recent.RecentAppends`), so their nodes are not
        hashed twice.
        """
        start = last.size if last is not None else 0
        if extended is not None:
            trusted = extended.copy()
        else:
            trusted = last.frontier.copy() if last is not None else CompactRange()
            trusted.extend(leaf_hashes)
        if trusted.size != stored.size or trusted.root() != stored.root():
            raise SignerRefused(
                f"the stored log does not extend the checkpoint of size {start} the signer "
                f"signed last: entries before {start} were changed, removed or replaced, or the "
                "sequencing state was rewritten; refusing to sign"
            )
        extensions: tuple[str, ...] = ()
        if last is not None:
            root = base64.b64encode(last.frontier.root()).decode("ascii")
            extensions = (f"{PREVIOUS} {last.size} {root}",)
        checkpoint = Checkpoint(self._origin, trusted.size, trusted.root(), extensions)
        state = SignerState(self._origin, trusted, sign_note(checkpoint.body(), [self._signer()]))
        self._save(state)
        return state

    def _load(self) -> SignerState | None:
        try:
            with open(self._path, "rb") as file:
                data = file.read(_MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SignerStateInvalid(
                f"cannot read the signer's state {self._path.name}: {error.strerror}"
            ) from None
        if len(data) > _MAX_STATE_BYTES:
            raise SignerStateInvalid(f"the signer's state {self._path.name} is too large")
        state = SignerState.from_bytes(data, self._verifiers(), where=self._path.name)
        if state.origin != self._origin:
            raise SignerStateInvalid(
                f"the signer's state {self._path.name} is for the log {state.origin!r}, "
                f"not {self._origin!r}"
            )
        return state

    def _save(self, state: SignerState) -> None:
        try:
            self._write(state)
        except OSError as error:
            raise SignerUnavailable(
                f"cannot write the signer's state {self._path.name}: {error.strerror}"
            ) from None

    def _write(self, state: SignerState) -> None:
        temporary = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, state.to_bytes())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self._path)
        directory = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def note_checkpoint(note: bytes, verifiers: Sequence[NoteVerifier]) -> tuple[Note, Checkpoint]:
    """The verified note and its checkpoint (:class:`NoteInvalid` / :class:`CheckpointInvalid`)."""
    opened, _ = open_note(note, verifiers)
    return opened, Checkpoint.from_body(opened.text)


def stored_origin(state_file: Path) -> str | None:
    """The origin a signer's state file names, unverified (None if there is none yet).

    Only to name the log before the keyring is at hand: loading the state for
    signing verifies it.
    """
    try:
        with open(state_file, "rb") as file:
            origin = json.loads(file.read(_MAX_STATE_BYTES)).get("origin")
    except (OSError, ValueError, AttributeError):
        return None
    return origin if isinstance(origin, str) else None

"""``servinfo audit …``: verify the log, prove entries and consistency, check proofs offline.

``verify-proof`` and ``verify-consistency`` are the auditor's commands: they
need the bundle file and the audit public key, nothing else — no deployment,
no database, no network. The other commands open the deployment.

Exit status: 0 when the log or proof verifies, 2 when it does not (with one
line naming the first bad entry or the failed step), as for every error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from servinfo.cli._options import DataDirOption, JsonOption, TokenFileOption, TokenOption
from servinfo.cli._output import console, err_console, print_json, table
from servinfo.cli._session import authorized

if TYPE_CHECKING:
    from servinfo.audit.entries import AuditEntry
    from servinfo.audit.errors import AuditError
    from servinfo.audit.heads import PublicKeys
    from servinfo.audit.log import AuditLog

__all__ = ["app", "register"]

app = typer.Typer(
    help="The audit log: verify it, prove entries, check proofs offline.",
    no_args_is_help=True,
)

#: Exit status when a log or proof does not verify (as for any servinfo error).
EXIT_FAILED = 2
_KEY_SIZE = 32

PublicKeyOption = Annotated[
    str,
    typer.Option(
        "--public-key",
        help="The audit public key: base64, or a file holding base64, 32 raw bytes, "
        "or the JSON of 'servinfo audit public-key --json' (all key versions).",
    ),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write to this file instead of standard output.")
]


def register(parent: typer.Typer) -> None:
    """Mount ``audit`` on the ``servinfo`` application."""
    parent.add_typer(app, name="audit")


@contextmanager
def _open_log(
    data_dir: Path | None, token: str | None, token_file: Path | None
) -> Iterator[AuditLog]:
    """The deployment's audit log, for a principal whose role may read the audit log."""
    with authorized(data_dir, token, "read_audit", token_file=token_file) as (deployment, _me):
        yield deployment.audit


# -- the deployment's log ----------------------------------------------------------


@app.command("verify")
def verify(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rehash every stored entry, check every signed head; name the first bad entry."""
    from servinfo.audit import _codec
    from servinfo.audit.errors import HeadInvalid, LogTampered

    with _open_log(data_dir, token, token_file) as log:
        try:
            report = log.verify()
        except (LogTampered, HeadInvalid) as error:
            index = error.index if isinstance(error, LogTampered) else None
            if as_json:
                print_json(
                    {"ok": False, "error": error.code, "first_bad_entry": index,
                     "message": error.message}
                )  # fmt: skip
            else:
                err_console.print(f"FAILED: {error.message}", markup=False)
            raise typer.Exit(EXIT_FAILED) from None
    head = report.latest_head
    if as_json:
        print_json(
            {
                "ok": True,
                "entries": report.entries,
                "root_hash": _codec.b64(report.root),
                "heads": report.heads,
                "signed_entries": report.signed_entries,
                "unsigned_entries": report.unsigned_entries,
                "latest_head": None if head is None else head.to_dict(),
            }
        )
        return
    console.print(f"OK: {report.entries} entries, root {_codec.b64(report.root)}", markup=False)
    if head is None:
        console.print("  no signed tree head yet")
    else:
        console.print(
            f"  {report.heads} signed heads; latest: {head.tree_size} entries at "
            f"{_time(head.timestamp)} by {head.key_id}; {report.unsigned_entries} unsigned since",
            markup=False,
        )


@app.command("prove")
def prove(
    index: Annotated[int, typer.Argument(help="The entry's seq.", min=0)],
    out: OutOption = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """The inclusion proof of entry INDEX against the latest signed head (a JSON bundle)."""
    with _open_log(data_dir, token, token_file) as log:
        bundle = log.inclusion_bundle(index)
    _emit(bundle.to_json(), out)


@app.command("consistency")
def consistency(
    from_size: Annotated[int, typer.Argument(help="Size of an earlier signed head.", min=0)],
    to_size: Annotated[
        int | None, typer.Argument(help="Size of a later signed head (default: the latest).")
    ] = None,
    out: OutOption = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """The consistency proof between two signed heads: the log only grew (a JSON bundle)."""
    with _open_log(data_dir, token, token_file) as log:
        bundle = log.consistency_bundle(from_size, to_size)
    _emit(bundle.to_json(), out)


@app.command("tail")
def tail(
    count: Annotated[int, typer.Option("-n", "--count", help="How many entries.", min=0)] = 20,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The newest entries, oldest first (subjects appear only as pseudonyms)."""
    with _open_log(data_dir, token, token_file) as log:
        entries = log.tail(count)
    if as_json:
        print_json([_entry_dict(e) for e in entries])
        return
    shown = table(
        "seq", "time (UTC)", "action", "actor", "purpose", "outcome", "subject", "records",
        ids=("subject",),
    )  # fmt: skip
    for e in entries:
        shown.add_row(
            str(e.seq), _time(e.at), e.action, e.actor, e.purpose or "", e.outcome or "",
            e.subject_pseudonym or "", str(len(e.record_ids)),
        )  # fmt: skip
    console.print(shown)


@app.command("public-key")
def public_key(
    out: OutOption = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit public key auditors verify heads with (--json: every version, by key id)."""
    from servinfo.audit import _codec

    with _open_log(data_dir, token, token_file) as log:
        keys = log.public_keys()
        current = log.signing_key_id
    if as_json:
        text = json.dumps(
            {"current": current, "keys": {k: _codec.b64(v) for k, v in keys.items()}}, indent=2
        )
    else:
        text = _codec.b64(keys[current])
    if out is not None:
        out.write_text(text + "\n", encoding="ascii")
        err_console.print(f"wrote {current} to {out}", markup=False)
    elif as_json:
        print(text)
    else:
        console.print(f"{current} {text}", markup=False)


# -- offline checks ----------------------------------------------------------------


@app.command("verify-proof")
def verify_proof(
    bundle_file: Annotated[Path, typer.Argument(help="The bundle 'servinfo audit prove' wrote.")],
    key: PublicKeyOption,
) -> None:
    """Check an inclusion bundle offline, with only the audit public key."""
    from servinfo.audit.errors import AuditError
    from servinfo.audit.proofs import InclusionBundle, verify_inclusion_bundle

    keys = _public_keys(key)
    try:
        bundle = InclusionBundle.from_json(_read(bundle_file))
        verify_inclusion_bundle(bundle, keys)
    except AuditError as error:
        _fail(error)
    head = bundle.head
    what = "its stored bytes" if bundle.entry is not None else "its leaf hash"
    console.print(
        f"OK: entry {bundle.index} ({what}) is in the log of {head.tree_size} entries "
        f"signed at {_time(head.timestamp)} by {head.key_id}",
        markup=False,
    )


@app.command("verify-consistency")
def verify_consistency(
    bundle_file: Annotated[
        Path, typer.Argument(help="The bundle 'servinfo audit consistency' wrote.")
    ],
    key: PublicKeyOption,
) -> None:
    """Check a consistency bundle offline: the later head extends the earlier one."""
    from servinfo.audit.errors import AuditError
    from servinfo.audit.proofs import ConsistencyBundle, verify_consistency_bundle

    keys = _public_keys(key)
    try:
        bundle = ConsistencyBundle.from_json(_read(bundle_file))
        verify_consistency_bundle(bundle, keys)
    except AuditError as error:
        _fail(error)
    old, new = bundle.old_head, bundle.new_head
    console.print(
        f"OK: the log of {new.tree_size} entries ({_time(new.timestamp)}) extends the log of "
        f"{old.tree_size} entries ({_time(old.timestamp)})",
        markup=False,
    )


# -- helpers -----------------------------------------------------------------------


def _public_keys(value: str) -> PublicKeys:
    """The key(s) ``--public-key`` names: base64 text, or a file (see the option's help)."""
    path = Path(value)
    data: bytes = path.read_bytes() if path.is_file() else value.encode("utf-8")
    if path.is_file() and len(data) == _KEY_SIZE:
        return data
    text = data.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            obj: Any = json.loads(text)
            mapping = obj.get("keys", obj)
            return {str(k): _key(str(v)) for k, v in mapping.items()}
        except (ValueError, TypeError, AttributeError, KeyError):
            raise typer.BadParameter(
                "expected JSON {key id: base64 key} or {'keys': {...}}", param_hint="--public-key"
            ) from None
    return _key(text)


def _key(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise typer.BadParameter(
            "not base64 and not a readable file", param_hint="--public-key"
        ) from None
    if len(raw) != _KEY_SIZE:
        raise typer.BadParameter(
            f"an Ed25519 public key is {_KEY_SIZE} bytes, got {len(raw)}", param_hint="--public-key"
        )
    return raw


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise typer.BadParameter(f"cannot read {path}: {error.strerror}") from None


def _fail(error: AuditError) -> NoReturn:
    err_console.print(f"FAILED: {error.message}", markup=False)
    raise typer.Exit(EXIT_FAILED)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        err_console.print(f"wrote {out}", markup=False)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _entry_dict(entry: AuditEntry) -> dict[str, Any]:
    details: Mapping[str, Any] = entry.details
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "purpose": entry.purpose,
        "outcome": entry.outcome,
        "reasons": list(entry.reasons),
        "subject_pseudonym": entry.subject_pseudonym,
        "record_ids": list(entry.record_ids),
        "details": dict(details),
        "policy_version": entry.policy_version,
    }

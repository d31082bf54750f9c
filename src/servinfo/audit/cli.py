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
    from servinfo.audit.heads import PublicKeys
    from servinfo.audit.log import AuditLog
    from servinfo.audit.policy import TrustPolicy

__all__ = ["app", "register"]

app = typer.Typer(
    help="The audit log: verify it, prove entries, check proofs offline.",
    no_args_is_help=True,
)

#: Exit status when a log or proof does not verify (as for any servinfo error).
EXIT_FAILED = 2
_KEY_SIZE = 32

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
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="A C2SP tlog-policy file: the log keys and witnesses to trust, and the quorum. "
            "Checks that a quorum of witnesses cosigned the log, recently enough.",
        ),
    ] = None,
    trusted: Annotated[
        list[Path] | None,
        typer.Option(
            "--trusted",
            help="A checkpoint saved earlier (a signed note); the log must still contain it. "
            "Repeat for several.",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rehash every entry, check every checkpoint and head, the signer's state, checkpoints
    saved earlier and (with --policy) the witnesses; name the first problem."""
    from servinfo.audit import _codec
    from servinfo.audit.auditor import verify_witnessed

    notes = [_read(path) for path in trusted or ()]
    policy = _policy(policy_file) if policy_file is not None else None
    with (
        authorized(data_dir, token, "read_audit", token_file=token_file) as (deployment, _me),
        _failing(as_json),
    ):
        report = deployment.audit.verify(trusted=notes)
        witnessed = None
        if policy is not None:
            witnessed = verify_witnessed(
                deployment.audit,
                policy,
                entries=report.entries,
                max_unwitnessed=deployment.settings.audit_max_unwitnessed_seconds,
            )
    if as_json:
        print_json(
            {
                "ok": True,
                "entries": report.entries,
                "root_hash": _codec.b64(report.root),
                "checkpoints": report.checkpoints,
                "legacy_heads": report.heads,
                "signed_entries": report.signed_entries,
                "unsigned_entries": report.unsigned_entries,
                "trusted_checkpoints": len(notes),
                "witnessed": None
                if witnessed is None
                else {
                    "size": witnessed.size,
                    "time": witnessed.time,
                    "witnesses": list(witnessed.witnesses),
                },
            }
        )
        return
    console.print(f"OK: {report.entries} entries, root {_codec.b64(report.root)}", markup=False)
    console.print(
        f"  {report.checkpoints} checkpoints ({report.heads} older signed heads); "
        f"{report.signed_entries} entries signed, {report.unsigned_entries} since",
        markup=False,
    )
    if notes:
        console.print(f"  contains the {len(notes)} trusted checkpoint(s)", markup=False)
    if witnessed is not None:
        console.print(
            f"  witnessed: {witnessed.size} entries cosigned by {', '.join(witnessed.witnesses)} "
            f"at {_time(witnessed.time * 1000)}",
            markup=False,
        )


@app.command("checkpoint")
def checkpoint(
    out: OutOption = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """The latest checkpoint with its cosignatures (signing one first if entries are
    unsigned): save it, and pass it to 'verify --trusted' later."""
    with _open_log(data_dir, token, token_file) as log:
        log.checkpoint()
        note = log.latest_checkpoint()
    assert note is not None
    _emit(note.decode("utf-8").rstrip("\n"), out)


@app.command("policy")
def trust_policy(
    out: OutOption = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """A C2SP tlog-policy for auditors: this log's keys, the deployment's witnesses, the quorum."""
    with authorized(data_dir, token, "read_audit", token_file=token_file) as (deployment, _me):
        text = deployment.audit_service.trust_policy_text()
    _emit(text.rstrip("\n"), out)


@app.command("witness")
def witness(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign a checkpoint and ask every witness of the deployment's policy to cosign it now
    (the server does this on its own every few seconds)."""
    with authorized(data_dir, token, "read_audit", token_file=token_file) as (deployment, _me):
        deployment.audit.checkpoint()
        with deployment.witnessing() as witnessing:
            outcomes = witnessing.run_once()
    if as_json:
        print_json([{"witness": o.witness, "result": o.result, "size": o.size,
                     "detail": o.detail} for o in outcomes])  # fmt: skip
    for o in outcomes:
        line = f"{o.witness}: {o.result} (checkpoint {o.size})" + (
            f": {o.detail}" if o.detail else ""
        )
        (console if o.ok else err_console).print(line, markup=False)
    if not all(o.ok for o in outcomes):
        raise typer.Exit(EXIT_FAILED)


@app.command("prove")
def prove(
    index: Annotated[int, typer.Argument(help="The entry's seq.", min=0)],
    out: OutOption = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Entry INDEX as a C2SP tlog-proof against the latest checkpoint (the entry's bytes ride
    in its 'extra' line); check it with 'verify-proof'."""
    with authorized(data_dir, token, "read_audit", token_file=token_file) as (deployment, _me):
        text = deployment.audit_service.inclusion_proof(index)
    _emit(text.rstrip("\n"), out)


@app.command("consistency")
def consistency(
    from_size: Annotated[int, typer.Argument(help="Size of an earlier checkpoint.", min=0)],
    to_size: Annotated[
        int | None, typer.Argument(help="Size of a later checkpoint (default: the latest).")
    ] = None,
    out: OutOption = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """The consistency proof from an earlier checkpoint to a later one, in the body format of
    C2SP tlog-witness (old size, proof, checkpoint); check it with 'verify-consistency'."""
    from servinfo.audit.witness_protocol import AddCheckpointRequest

    with _open_log(data_dir, token, token_file) as log:
        proof = log.consistency(from_size, to_size)
    body = AddCheckpointRequest(proof.old_size, proof.proof, proof.checkpoint).to_bytes()
    _emit(body.decode("utf-8").rstrip("\n"), out)


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
            str(e.seq), _time(e.at), e.action, _actor(e), e.purpose or "", e.outcome or "",
            e.subject_pseudonym or "", str(len(e.record_ids)),
        )  # fmt: skip
    console.print(shown)


@app.command("keys")
def keys(
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """The log's origin and every version of its signing key (C2SP vkeys) with its window."""
    with authorized(data_dir, token, "read_audit", token_file=token_file) as (deployment, _me):
        answer = deployment.audit_service.keys()
    if as_json:
        print_json(answer)
        return
    console.print(f"origin {answer['origin']}", markup=False)
    for key in answer["log_keys"]:
        until = "now" if key["valid_until"] is None else _time(key["valid_until"] * 1000)
        console.print(
            f"{key['key_id']}  {_time(key['valid_from'] * 1000)} .. {until}  {key['vkey']}",
            markup=False,
        )


# -- offline checks ----------------------------------------------------------------


@app.command("verify-proof")
def verify_proof(
    proof_file: Annotated[Path, typer.Argument(help="The proof 'servinfo audit prove' wrote.")],
    policy_file: Annotated[
        Path | None,
        typer.Option("--policy", help="The C2SP tlog-policy to trust (tlog-proof files)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="For a JSON bundle from before checkpoints: the audit public key (base64, a "
            "file, or the JSON of every key version).",
        ),
    ] = None,
) -> None:
    """Check an entry's proof offline: a tlog-proof against a policy, with nothing else."""
    data = _read(proof_file)
    if data.lstrip().startswith(b"{"):
        _verify_legacy_bundle(data, key)
        return
    if policy_file is None:
        raise typer.BadParameter("a tlog-proof is checked against --policy", param_hint="--policy")
    from servinfo.audit.merkle import leaf_hash
    from servinfo.audit.tlog_proof import TlogProof

    policy = _policy(policy_file)
    with _failing(False):
        proof = TlogProof.parse(data)
        if proof.extra is None:
            from servinfo.audit.errors import ProofInvalid

            raise ProofInvalid("the proof carries no entry (no extra line)")
        verified = proof.verify(leaf_hash(proof.extra), policy)
    witnesses = ", ".join(sorted(verified.cosignatures)) or "no witness"
    console.print(
        f"OK: entry {proof.index} is in the log {verified.checkpoint.origin} of "
        f"{verified.checkpoint.size} entries, cosigned by {witnesses}",
        markup=False,
    )


@app.command("verify-consistency")
def verify_consistency(
    proof_file: Annotated[
        Path, typer.Argument(help="The proof 'servinfo audit consistency' wrote.")
    ],
    old_file: Annotated[
        Path, typer.Option("--old", help="The earlier checkpoint you saved (a signed note).")
    ],
    policy_file: Annotated[Path, typer.Option("--policy", help="The C2SP tlog-policy to trust.")],
) -> None:
    """Check offline that the proof's checkpoint extends a checkpoint you saved earlier."""
    from servinfo.audit.checkpoint import Checkpoint
    from servinfo.audit.errors import ProofInvalid
    from servinfo.audit.merkle import verify_consistency as consistent
    from servinfo.audit.note import Note, open_note
    from servinfo.audit.witness_protocol import AddCheckpointRequest

    policy = _policy(policy_file)
    data, old_data = _read(proof_file), _read(old_file)
    with _failing(False):
        request = AddCheckpointRequest.parse(data)
        verified = policy.verify_checkpoint(request.checkpoint)
        old_note = Note.parse(old_data)
        old = Checkpoint.from_body(old_note.text)
        open_note(old_data, policy.log_verifiers(old.origin))
        new = verified.checkpoint
        if old.origin != new.origin:
            raise ProofInvalid(f"the checkpoints are of two logs: {old.origin!r}, {new.origin!r}")
        if request.old_size != old.size:
            raise ProofInvalid(
                f"the proof starts at size {request.old_size}, the saved checkpoint is {old.size}"
            )
        if not consistent(old.size, new.size, old.root_hash, new.root_hash, request.proof):
            raise ProofInvalid(
                f"the checkpoint of {new.size} entries does not extend the saved one of "
                f"{old.size}: the log was rewritten or forked"
            )
    console.print(
        f"OK: the log {new.origin} of {new.size} entries extends the saved checkpoint of "
        f"{old.size} entries",
        markup=False,
    )


@app.command("verify-receipt")
def verify_receipt(
    receipt_file: Annotated[Path, typer.Argument(help="The erasure receipt (JSON).")],
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="The C2SP tlog-policy to trust instead of the receipt's own: take it from "
            "the deployment ('servinfo audit policy'), not from whoever sent the receipt.",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The deployment's base URL: also check that its latest checkpoint still holds "
            "the erasure (a consistency proof; needs a token that may read the audit log).",
        ),
    ] = None,
    cacert: Annotated[
        Path | None, typer.Option("--cacert", help="The CA certificate of --url's HTTPS.")
    ] = None,
    data_dir: DataDirOption = None,
    token_file: TokenFileOption = None,
    token: TokenOption = None,
) -> None:
    """Check an erasure receipt: its erasure entry is in the log under the trust policy and
    kept what the receipt says (the checks of the export's verify.py). With --url, or inside
    the deployment (--data-dir or a token), also that the log was never rolled back since.

    Exit status: 0 verified, 1 not verified (one line naming the first failure), 2 usage."""
    from servinfo.audit.standalone import rollback
    from servinfo.audit.standalone import verify as standalone
    from servinfo.cli._session import resolve_token

    data = _read(receipt_file)
    policy_text = None if policy_file is None else _read(policy_file).decode("utf-8", "replace")
    try:
        receipt = standalone.check_receipt(data, policy_text)
        if url is not None:
            later = rollback.from_url(url, receipt, resolve_token(token, token_file), cacert)
        elif data_dir is not None or token is not None or token_file is not None:
            with _open_log(data_dir, token, token_file) as log:
                later = rollback.from_log(log, receipt)
        else:
            later = None
        still = None if later is None else rollback.check_later(receipt, later)
    except standalone.Refused as refused:
        err_console.print(f"FAILED: {refused}", markup=False)
        raise typer.Exit(standalone.EXIT_FAILED) from None
    console.print(receipt.summary(), markup=False)
    if still is None:
        still = "not checked against the deployment's latest checkpoint (give --url)"
    console.print(f"  {still}", markup=False)


def _verify_legacy_bundle(data: bytes, key: str | None) -> None:
    from servinfo.audit.proofs import InclusionBundle, verify_inclusion_bundle

    if key is None:
        raise typer.BadParameter(
            "a JSON bundle is checked against --public-key", param_hint="--public-key"
        )
    keys = _public_keys(key)
    with _failing(False):
        bundle = InclusionBundle.from_json(data)
        verify_inclusion_bundle(bundle, keys)
    head = bundle.head
    console.print(
        f"OK: entry {bundle.index} is in the log of {head.tree_size} entries signed at "
        f"{_time(head.timestamp)} by {head.key_id}",
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


@contextmanager
def _failing(as_json: bool) -> Iterator[None]:
    """Any failure to verify, malformed input included, is one line and exit 2."""
    from servinfo.audit.errors import AuditError, LogTampered

    try:
        yield
    except AuditError as error:
        _fail(error.code, error.message, error.index if isinstance(error, LogTampered) else None,
              as_json)  # fmt: skip
    except (ValueError, RecursionError, UnicodeError) as error:
        # A parser that did not name its error: still a refusal, never a traceback.
        _fail("audit_input_invalid", f"malformed input ({type(error).__name__})", None, as_json)


def _fail(code: str, message: str, index: int | None, as_json: bool) -> NoReturn:
    if as_json:
        print_json({"ok": False, "error": code, "first_bad_entry": index, "message": message})
    else:
        err_console.print(f"FAILED: {message}", markup=False)
    raise typer.Exit(EXIT_FAILED)


def _policy(path: Path) -> TrustPolicy:
    from servinfo.audit.policy import TrustPolicy

    data = _read(path)
    with _failing(False):
        return TrustPolicy.parse(data.decode("utf-8"))
    raise AssertionError("unreachable")  # pragma: no cover - _failing never swallows


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        err_console.print(f"wrote {out}", markup=False)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _actor(entry: AuditEntry) -> str:
    """A subject's own principal or agent is a reference (format 2): shown as such."""
    return f"subject ref {entry.actor}" if entry.subject_actor else entry.actor


def _entry_dict(entry: AuditEntry) -> dict[str, Any]:
    details: Mapping[str, Any] = entry.details
    return {
        "v": entry.v,
        "seq": entry.seq,
        "at": entry.at,
        "actor": {"ref": entry.actor} if entry.subject_actor else entry.actor,
        "action": entry.action,
        "purpose": entry.purpose,
        "outcome": entry.outcome,
        "reasons": list(entry.reasons),
        "subject_pseudonym": entry.subject_pseudonym,
        "record_ids": list(entry.record_ids),
        "details": dict(details),
        "links": dict(entry.links),
        "policy_version": entry.policy_version,
    }

"""``servinfo backup``: a sealed snapshot of a deployment, readable only until it expires.

What a backup holds (a tar stream, sealed a chunk at a time by
:mod:`servinfo.crypto.stream`, never held in memory):

* ``manifest.json``: the backup's id, the deployment, when it was taken and
  expires, the length of the shred ledger when it was taken (a restore replays
  every row from there on), the backend, and where the key material the backup
  leaves out was (the master key file, the signer's state, the shred ledger and
  the catalogue);
* ``databases/``: the control database and every region's — on SQLite a copy
  made with SQLite's online backup API (``sqlite3.Connection.backup``: a
  consistent image while writers go on), on PostgreSQL ``pg_dump
  --format=custom`` of each database (one consistent snapshot per database);
* ``files/``: what else the data directory holds that a restore needs:
  ``servinfo.toml``, the keyring (its keys wrapped by the master key), the
  deployment's policy file, its TLS certificate and key, its witness policy.

What it leaves out, on purpose: the master key (never beside the data it
unlocks), the audit signer's state, the shred ledger and the backup catalogue
— state a restore must not roll back, kept with the key material.

Each backup is sealed under a key of its own. That key is not in the file: it
is wrapped by the master key and kept in the backup catalogue
(:class:`~servinfo.retention.ledger.BackupCatalogue`), with the day the
policy's ``backups.keep_for`` makes the backup expire; the daily
``backup_expiry`` job then destroys it (:func:`expire_backups`), and the backup
cannot be opened any more, wherever its file went. The clear header names the
backup (so a restore finds its key) and binds every chunk: a header edited in
the file makes every chunk fail.

Each database is copied consistently on its own; they are not one snapshot of
the whole deployment. A restore makes them agree again: it replays the shred
ledger from its length *before* the first copy began, and the store stamps'
generations are raised on every database it puts back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from servinfo.crypto import LocalMasterKeyWrapper
from servinfo.crypto.stream import StreamSealer, new_stream_key
from servinfo.errors import ServinfoError
from servinfo.policy.durations import add_duration, parse_duration
from servinfo.retention.ledger import BACKUP_KEY_DESTROYED, BackupCatalogue, CatalogueEntry
from servinfo.store._ids import new_ulid

if TYPE_CHECKING:
    from servinfo.deployment import Deployment
    from servinfo.retention.ledger import RecoveryLedger

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "BackupError",
    "BackupHeader",
    "BackupResult",
    "backup_key_label",
    "expire_backups",
    "read_header",
    "take_backup",
]

MAGIC = b"SERVINFO-BACKUP\n"
FORMAT_VERSION = 1
_HEADER_LENGTH = struct.Struct(">I")
_MAX_HEADER = 64 * 1024
#: The actor the audit log names for backups and their expiry.
BACKUP_ACTOR = "servinfo-backup"


class BackupError(ServinfoError):
    """A backup cannot be taken, found, opened or restored; the message says why."""

    code = "backup_error"


@dataclass(frozen=True)
class BackupHeader:
    """The clear part of a backup file: enough to find its key, nothing more."""

    backup_id: str
    deployment_id: str
    created_at: dt.datetime
    expires_at: dt.datetime
    backend: str
    #: Where the backup catalogue and the shred ledger were (no credentials): hints for restore.
    catalogue: str
    shred_ledger: str
    #: The master key file that wraps the backup's key ("" when it came from the environment).
    master_key_file: str = ""

    def to_bytes(self) -> bytes:
        document = {
            "format": "servinfo-backup",
            "version": FORMAT_VERSION,
            "backup_id": self.backup_id,
            "deployment_id": self.deployment_id,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "backend": self.backend,
            "catalogue": self.catalogue,
            "shred_ledger": self.shred_ledger,
            "master_key_file": self.master_key_file,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def context(self) -> bytes:
        """What every sealed chunk is bound to: the backup id and the whole header."""
        return self.backup_id.encode("ascii") + b"\x00" + hashlib.sha256(self.to_bytes()).digest()


def backup_key_label(backup_id: str) -> str:
    """The label a backup's key is wrapped under (binds the wrapped key to its backup)."""
    return f"backup:{backup_id}"


def read_header(source: IO[bytes], shown: str) -> BackupHeader:
    """The header of the backup file open in ``source`` (positioned after it on return)."""
    magic = source.read(len(MAGIC))
    if magic != MAGIC:
        raise BackupError(f"{shown} is not a servinfo backup (it does not start like one)")
    raw_length = source.read(_HEADER_LENGTH.size)
    if len(raw_length) != _HEADER_LENGTH.size:
        raise BackupError(f"{shown} is truncated: it ends inside its header")
    (length,) = _HEADER_LENGTH.unpack(raw_length)
    if length > _MAX_HEADER:
        raise BackupError(f"{shown} has a malformed header ({length} bytes)")
    raw = source.read(length)
    try:
        document = json.loads(raw)
        if document.get("format") != "servinfo-backup":
            raise ValueError("format")
        if document.get("version") != FORMAT_VERSION:
            raise BackupError(
                f"{shown} is a backup of format version {document.get('version')!r}; this "
                f"servinfo reads version {FORMAT_VERSION}"
            )
        header = BackupHeader(
            backup_id=str(document["backup_id"]),
            deployment_id=str(document["deployment_id"]),
            created_at=dt.datetime.fromisoformat(document["created_at"]),
            expires_at=dt.datetime.fromisoformat(document["expires_at"]),
            backend=str(document["backend"]),
            catalogue=str(document["catalogue"]),
            shred_ledger=str(document["shred_ledger"]),
            master_key_file=str(document.get("master_key_file", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BackupError(f"{shown} has a malformed header") from None
    if header.to_bytes() != raw:
        raise BackupError(f"{shown} has a malformed header (not in its canonical form)")
    return header


@dataclass(frozen=True)
class BackupResult:
    backup_id: str
    path: Path
    created_at: dt.datetime
    expires_at: dt.datetime
    size_bytes: int
    members: tuple[str, ...]
    ledger_seq: int


def _expiry(created_at: dt.datetime, keep_for: str) -> dt.datetime:
    day = add_duration(created_at.astimezone(dt.UTC).date(), parse_duration(keep_for))
    return dt.datetime.combine(day, created_at.astimezone(dt.UTC).timetz())


def _inside(path: Path, data_dir: Path) -> str | None:
    """``path`` relative to the data directory, or None when it lies outside."""
    try:
        return path.resolve().relative_to(data_dir.resolve()).as_posix()
    except ValueError:
        return None


def take_backup(
    deployment: Deployment,
    *,
    out: Path,
    master_key: bytes,
    master_key_file: str = "",
    catalogue: BackupCatalogue,
    ledger: RecoveryLedger,
    now: dt.datetime,
) -> BackupResult:
    """Write a sealed backup of ``deployment`` to ``out`` (never over an existing file).

    Steps: (1) the policy's backup period; (2) the shred ledger's length, before
    any copy; (3) a new key, wrapped by the master key, in the catalogue; (4)
    the copies, streamed into the sealed file (written beside ``out`` and
    renamed into place when complete, so no partial backup is ever at ``out``);
    (5) one audit entry (the backup's id and expiry; no content).
    """
    backups = deployment.policy.backups
    if backups is None:  # (1)
        raise BackupError(
            "the policy states no backup period (backups.keep_for): a backup must have an "
            "end the notice can state; add it to the policy first"
        )
    if out.exists():
        raise BackupError(f"{out} already exists; servinfo never overwrites a file")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} is not a directory")
    ledger_seq = ledger.length()  # (2)
    backup_id = new_ulid()
    key = new_stream_key()  # (3)
    header = BackupHeader(
        backup_id=backup_id,
        deployment_id=deployment.deployment_id,
        created_at=now,
        expires_at=_expiry(now, backups.keep_for),
        backend=deployment.control.dialect.name,
        catalogue=catalogue.location,
        shred_ledger=ledger.location,
        master_key_file=master_key_file,
    )
    catalogue.add_backup(
        CatalogueEntry(
            backup_id=backup_id,
            deployment_id=deployment.deployment_id,
            created_at=now,
            expires_at=header.expires_at,
            ledger_seq=ledger_seq,
            wrapped_key=LocalMasterKeyWrapper(master_key).wrap(backup_key_label(backup_id), key),
            destroyed_at=None,
            size_bytes=None,
            file_name=out.name,
        )
    )
    manifest = {
        "backup_id": backup_id,
        "deployment_id": deployment.deployment_id,
        "created_at": now.isoformat(),
        "expires_at": header.expires_at.isoformat(),
        "ledger_seq": ledger_seq,
        "backend": header.backend,
        "regions": sorted(deployment.regions),
        "audit_origin": deployment.audit.origin,
        "outside": _outside_paths(deployment),
    }
    partial = out.with_name(out.name + ".partial")
    members: list[str] = []
    try:
        with open(partial, "xb") as file:  # (4)
            raw = header.to_bytes()
            file.write(MAGIC + _HEADER_LENGTH.pack(len(raw)) + raw)
            sealer = StreamSealer(key, header.context(), file)
            with tarfile.open(fileobj=sealer, mode="w|") as archive:
                _add_bytes(archive, "manifest.json", json.dumps(manifest, indent=1).encode())
                members.append("manifest.json")
                for name, path in _data_files(deployment).items():
                    archive.add(str(path), arcname=f"files/{name}", recursive=False)
                    members.append(f"files/{name}")
                with tempfile.TemporaryDirectory(dir=out.parent, prefix=".servinfo-backup-") as tmp:
                    for name, engine in _databases(deployment).items():
                        member = _snapshot_database(engine, Path(tmp), name)
                        archive.add(str(member), arcname=f"databases/{member.name}")
                        members.append(f"databases/{member.name}")
                        member.unlink()
            sealer.close()
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    size = out.stat().st_size
    catalogue.set_backup_size(backup_id, size)
    deployment.audit.record(  # (5)
        "backup",
        actor=BACKUP_ACTOR,
        outcome="taken",
        details={
            "backup_id": backup_id,
            "expires_at": header.expires_at.isoformat(),
            "size_bytes": size,
            "ledger_seq": ledger_seq,
        },
    )
    return BackupResult(backup_id, out, now, header.expires_at, size, tuple(members), ledger_seq)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def _data_files(deployment: Deployment) -> dict[str, Path]:
    """The data directory's files a restore needs, by their path relative to it."""
    settings = deployment.settings
    candidates = [
        settings.config_file,
        settings.keyring_file,
        settings.tls_cert_file,
        settings.tls_key_file,
        settings.audit_witness_policy_file,
    ]
    if settings.policy_file is not None:
        candidates.append(settings.policy_file)
    found: dict[str, Path] = {}
    for path in candidates:
        relative = _inside(path, settings.data_dir)
        if relative is not None and path.is_file():
            found[relative] = path
    return found


def _outside_paths(deployment: Deployment) -> dict[str, str | None]:
    """Where the files a backup leaves out were: restore refers to them where they are."""
    settings = deployment.settings

    def where(path: Path | None, *, always: bool = False) -> str | None:
        if path is None:
            return None
        if not always and _inside(path, settings.data_dir) is not None:
            return None
        return str(path.resolve())

    return {
        "master_key_file": where(settings.master_key_file, always=True),
        "signer_state_file": where(settings.audit_signer_state_file, always=True),
        "keyring_file": where(settings.keyring_file),
        "policy_file": where(settings.policy_file),
        "tls_cert_file": where(settings.tls_cert_file),
        "tls_key_file": where(settings.tls_key_file),
        "witness_policy_file": where(settings.audit_witness_policy_file),
    }


def _databases(deployment: Deployment) -> dict[str, Engine]:
    return {"control": deployment.control} | {
        f"region-{region}": engine for region, engine in sorted(deployment.regions.items())
    }


def _snapshot_database(engine: Engine, directory: Path, name: str) -> Path:
    """A consistent copy of one database in ``directory``: SQLite's backup API, or pg_dump."""
    if engine.dialect.name == "sqlite":
        target = directory / f"{name}.sqlite"
        source_path = engine.url.database or ""
        source = sqlite3.connect(source_path)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()
        return target
    target = directory / f"{name}.pgdump"
    run_pg_tool("pg_dump", engine.url, ["--format=custom", "--no-owner", f"--file={target}"])
    return target


def run_pg_tool(tool: str, url: Any, arguments: list[str]) -> None:
    """Run ``pg_dump``/``pg_restore`` against the database of ``url``; the password goes
    through the environment, never the command line. One line on failure."""
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed: PostgreSQL deployments need it on PATH")
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    connection = [f"--dbname={parsed.database}"]
    if parsed.host:
        connection.append(f"--host={parsed.host}")
    if parsed.port:
        connection.append(f"--port={parsed.port}")
    if parsed.username:
        connection.append(f"--username={parsed.username}")
    done = subprocess.run(  # noqa: S603 (a fixed tool, arguments as a list)
        [tool, *connection, "--no-password", *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{tool} failed on {parsed.database}: {lines[0] if lines else 'error'}")


@contextmanager
def opened(path: Path) -> Iterator[IO[bytes]]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist") from None
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        yield handle


def expire_backups(
    catalogue: BackupCatalogue,
    ledger: RecoveryLedger,
    *,
    deployment_id: str,
    now: dt.datetime,
) -> list[str]:
    """Destroy the key of every backup past its expiry; the ids of those destroyed now.

    Each destruction is a shred-ledger row (a restore of a backup taken before
    it cannot bring the key back, since the catalogue is not in any backup);
    the catalogue's storage is purged after, so no old page keeps the key.
    """
    destroyed = []
    for entry in catalogue.backups():
        if entry.expired or entry.expires_at > now:
            continue
        if catalogue.destroy_backup_key(entry.backup_id, now):
            ledger.append(
                BACKUP_KEY_DESTROYED,
                {"backup_id": entry.backup_id},
                deployment_id=deployment_id,
                at=now,
            )
            destroyed.append(entry.backup_id)
    if destroyed:
        catalogue.purge_storage()
    return destroyed


def catalogue_rows(catalogue: BackupCatalogue, now: dt.datetime) -> list[Mapping[str, Any]]:
    """The catalogue as rows for ``servinfo backup list`` (no key material)."""
    return [
        {
            "backup_id": entry.backup_id,
            "created_at": entry.created_at.isoformat(),
            "expires_at": entry.expires_at.isoformat(),
            "state": "expired" if entry.expired else ("due" if entry.expires_at <= now else "open"),
            "key_destroyed_at": entry.destroyed_at.isoformat() if entry.destroyed_at else None,
            "size_bytes": entry.size_bytes,
            "file": entry.file_name,
            "ledger_seq": entry.ledger_seq,
        }
        for entry in catalogue.backups()
    ]

"""``servinfo restore``: a backup put back into a new directory, with every erasure since replayed.

Steps of :func:`restore_backup`, each refusing with one line before anything
is written when its input is wrong:

(1) The target: a new or empty directory (never over a deployment).
(2) The file: a servinfo backup (its header), in the catalogue, not expired —
    an expired backup's key was destroyed, or is due to be, and it is refused
    either way — and its key unwrapped with the master key.
(3) The shred ledger: where the backup's settings (or ``--shred-ledger``) say,
    its hash chain intact, and at least as long as it was when the backup was
    taken (a shorter one is an older copy: refused). Missing: the restore goes
    on only to leave a deployment that refuses to serve (step 9).
(4) Decrypt and unpack into a staging directory beside the target, checking
    every chunk; databases go where the new settings put them (SQLite files in
    the new directory; PostgreSQL databases named by ``--database-url-template``,
    which must be new or empty, loaded with ``pg_restore``).
(5) The new settings: the databases, the copied files, and, by absolute path,
    what the backup left out (the master key, the catalogue, the shred ledger);
    a new audit origin and a new signer state for it. The staging directory
    becomes the target only now, holding ``restore-state.json`` (replaying).
(6) Every database's generation stamp is raised (:func:`bump_generation`), so
    that an older copy of any of them is refused as stale from now on.
(7) A new audit log (:mod:`servinfo.audit.rebase`): its first entry names the
    old origin and the last checkpoint its signer signed, so the witnesses
    never see that log go back, and an auditor can follow one to the other.
(8) Replay, from the ledger's length when the backup was taken: each erasure
    (the subject, found by its keyed pseudonym, erased again with the classes
    kept then; its audit salt, ledgers and principals removed), each page of
    data keys a sweep destroyed (destroyed again by id, with what they sealed);
    then each region's retention sweep as of now. One ``restore`` row in the
    ledger, one audit entry with the counts; ``restore-state.json`` removed.
(9) Without the ledger, ``restore-state.json`` says ``ledger_not_replayed``:
    every command that opens the deployment, ``servinfo serve`` included,
    refuses with one line, until :func:`replay_ledger` runs with the ledger or
    an operator accepts the restore without it (:func:`accept_without_ledger`,
    ``--without-shred-ledger --reason``), which is audited as such.

A failure in (1)–(5) removes what it wrote (the staging directory, the
PostgreSQL databases it created); after (5) the target is a deployment marked
as not replayed, never one that serves half-replayed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tarfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, inspect, make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from servinfo.config import CONFIG_FILE_NAME, load_settings
from servinfo.crypto import (
    MASTER_KEY_ENV,
    LocalMasterKeyWrapper,
    Pseudonymizer,
    SealedIntegrityError,
    UnwrapError,
    load_master_key,
)
from servinfo.crypto.stream import StreamOpener
from servinfo.errors import ServinfoError
from servinfo.retention.backup import (
    BackupError,
    BackupHeader,
    backup_key_label,
    opened,
    read_header,
    run_pg_tool,
)
from servinfo.retention.ledger import (
    ERASURE,
    KEYS_DESTROYED,
    RESTORE,
    RESTORE_OVERRIDE,
    BackupCatalogue,
    LedgerError,
    RecoveryLedger,
)

if TYPE_CHECKING:
    from servinfo.deployment import Deployment

__all__ = [
    "RESTORE_STATE_FILE",
    "RestoreReport",
    "accept_without_ledger",
    "replay_ledger",
    "restore_backup",
    "restore_state",
]

_logger = logging.getLogger("servinfo.retention.restore")

#: The file in a restored data directory that says the shred ledger is not replayed yet.
RESTORE_STATE_FILE = "restore-state.json"
RESTORE_ACTOR = "servinfo-restore"
_REPLAYING = "replaying"
NOT_REPLAYED = "ledger_not_replayed"


@dataclass(frozen=True)
class RestoreReport:
    backup_id: str
    data_dir: Path
    #: Whether the shred ledger was replayed (False: the deployment refuses to serve).
    ledger_replayed: bool
    origin: str
    previous_origin: str
    replayed: Mapping[str, int] = field(default_factory=dict)
    shred_ledger: str = ""


def restore_state(data_dir: Path) -> Mapping[str, Any] | None:
    """What ``restore-state.json`` says, or None when the deployment is not awaiting replay."""
    path = data_dir / RESTORE_STATE_FILE
    try:
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"state": "unreadable"}
    return document if isinstance(document, dict) else {"state": "unreadable"}


def _write_state(data_dir: Path, document: Mapping[str, Any]) -> None:
    path = data_dir / RESTORE_STATE_FILE
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(dict(document), indent=1) + "\n", "utf-8")
    os.replace(temporary, path)


# -- (1)–(5) --------------------------------------------------------------------------


def _check_target(data_dir: Path) -> None:
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(
            f"{data_dir} is not an empty directory: a restore writes into a new or empty one"
        )


def _backup_key(
    header: BackupHeader, catalogue: BackupCatalogue, master_key: bytes, now: dt.datetime
) -> tuple[bytes, int]:
    """(2) The backup's key and the ledger's length when it was taken."""
    try:
        entry = catalogue.backup(header.backup_id)
    except LedgerError as error:
        raise BackupError(
            f"{error.message}: without the catalogue the backup's key is unknown (pass --catalogue)"
        ) from None
    if entry is None:
        raise BackupError(
            f"backup {header.backup_id} is not in the backup catalogue {catalogue.location}"
        )
    if entry.wrapped_key is None or entry.expires_at <= now:
        raise BackupError(
            f"backup {header.backup_id} expired on {entry.expires_at:%Y-%m-%d}: its key is "
            "destroyed and it can no longer be opened"
        )
    try:
        key = LocalMasterKeyWrapper(master_key).unwrap(
            backup_key_label(header.backup_id), entry.wrapped_key
        )
    except UnwrapError:
        raise BackupError(
            f"the master key does not open backup {header.backup_id}'s key "
            "(the master key of another deployment?)"
        ) from None
    return key, entry.ledger_seq


def _member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"the backup holds an unsafe member name {name!r}")
    return path


def _unpack(
    source: Any, key: bytes, header: BackupHeader, stage: Path, shown: str
) -> tuple[dict[str, Any], dict[str, Path]]:
    """(4) Decrypt and unpack: the manifest, and the database copies by name."""
    manifest: dict[str, Any] | None = None
    databases: dict[str, Path] = {}
    opener = StreamOpener(key, header.context(), source)
    dumps = stage / ".restore-databases"
    dumps.mkdir()
    try:
        with tarfile.open(fileobj=opener, mode="r|") as archive:
            for member in archive:
                path = _member_path(member.name)
                if not member.isfile():
                    raise BackupError(f"the backup holds a member that is not a file: {path}")
                extracted = archive.extractfile(member)
                assert extracted is not None
                if path.parts == ("manifest.json",):
                    manifest = json.loads(extracted.read())
                    continue
                if path.parts[0] == "files" and len(path.parts) > 1:
                    target = stage.joinpath(*path.parts[1:])
                elif path.parts[0] == "databases" and len(path.parts) == 2:
                    target = dumps / path.parts[1]
                    databases[path.stem] = target
                else:
                    raise BackupError(f"the backup holds an unexpected member {path}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:
                    shutil.copyfileobj(extracted, out, 1 << 20)
                os.chmod(target, 0o600)
    except SealedIntegrityError as error:
        raise BackupError(f"{shown} is damaged or was altered: {error.message}") from None
    except tarfile.TarError:
        raise BackupError(f"{shown} is damaged: its archive does not read") from None
    if manifest is None or manifest.get("backup_id") != header.backup_id:
        raise BackupError(f"{shown} holds no manifest for backup {header.backup_id}")
    return manifest, databases


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render_toml(document: Mapping[str, Any]) -> str:
    """servinfo.toml from its parsed form (tables of scalars, one level of sub-tables)."""
    lines = ["# servinfo deployment settings, written by 'servinfo restore'.", ""]
    for section, values in document.items():
        if not isinstance(values, dict):
            continue
        lines.append(f"[{section}]")
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if k not in nested]
        lines.append("")
        for name, table in nested.items():
            lines.append(f"[{section}.{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
            lines.append("")
    return "\n".join(lines)


def _database_urls(manifest: Mapping[str, Any], template: str | None) -> tuple[str, dict[str, str]]:
    regions = list(manifest["regions"])
    if manifest["backend"] == "sqlite":
        return "sqlite:///control.db", {r: f"sqlite:///regions/{r}.db" for r in regions}
    if template is None or "{name}" not in template:
        raise BackupError(
            "this backup is of a PostgreSQL deployment: give --database-url-template with "
            "'{name}' (e.g. postgresql://postgres@127.0.0.1/restored_{name})"
        )
    return template.format(name="control"), {r: template.format(name=r) for r in regions}


def _maintenance(url: str) -> Engine:
    """An engine on the server's ``postgres`` database, outside transactions."""
    return create_engine(
        make_url(url).set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )


def _prepare_postgres(url: str, created: list[str]) -> None:
    """Create the database of ``url`` unless it exists; refuse one that holds tables."""
    parsed = make_url(url)
    admin = _maintenance(url)
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": parsed.database},
            )
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
                connection.execute(text(f"CREATE DATABASE {quoted}"))
                created.append(url)
                return
        target = create_engine(parsed.set(drivername="postgresql+psycopg"), poolclass=NullPool)
        try:
            with target.connect() as connection:
                if inspect(connection).get_table_names():
                    raise BackupError(
                        f"database {parsed.database} is not empty: a restore loads into a new "
                        "or empty database"
                    )
        finally:
            target.dispose()
    except OperationalError as error:
        raise BackupError(
            f"cannot reach PostgreSQL for database {parsed.database}: "
            f"{str(error.orig).splitlines()[0] if error.orig else error}"
        ) from None
    finally:
        admin.dispose()


def _drop_postgres(urls: list[str]) -> None:
    for url in urls:
        parsed = make_url(url)
        admin = _maintenance(url)
        try:
            with admin.connect() as connection:
                quoted = connection.dialect.identifier_preparer.quote(parsed.database or "")
                connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        except OperationalError:
            _logger.error("could not drop database %s after a failed restore", parsed.database)
        finally:
            admin.dispose()


def _place_databases(
    databases: Mapping[str, Path],
    control_url: str,
    region_urls: Mapping[str, str],
    stage: Path,
    created: list[str],
) -> None:
    targets = {"control": control_url} | {f"region-{r}": u for r, u in region_urls.items()}
    missing = sorted(set(targets) - set(databases))
    if missing:
        raise BackupError(f"the backup lacks the database copies {', '.join(missing)}")
    for name, url in targets.items():
        copy = databases[name]
        if url.startswith("sqlite:///"):
            target = stage / url[len("sqlite:///") :]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(copy, target)
            continue
        _prepare_postgres(url, created)
        run_pg_tool("pg_restore", url, ["--no-owner", "--exit-on-error", str(copy)])


def _new_settings(
    stage: Path,
    manifest: Mapping[str, Any],
    *,
    control_url: str,
    region_urls: Mapping[str, str],
    master_key_file: Path | None,
    catalogue_url: str,
    ledger_url: str,
    origin: str,
    restore_id: str,
) -> None:
    """(5) servinfo.toml for the restored deployment."""
    path = stage / CONFIG_FILE_NAME
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        raise BackupError(f"the backup's {CONFIG_FILE_NAME} is missing or unreadable") from None
    outside: Mapping[str, str | None] = manifest.get("outside", {})

    def section(name: str) -> dict[str, Any]:
        table: dict[str, Any] = document.setdefault(name, {})
        return table

    section("database")["control"] = control_url
    section("database")["regions"] = dict(region_urls)
    keys = section("keys")
    if master_key_file is not None:
        keys["master_key_file"] = str(master_key_file)
    for setting, (table, key) in {
        "keyring_file": ("keys", "keyring_file"),
        "policy_file": ("policy", "file"),
        "tls_cert_file": ("server", "tls_cert_file"),
        "tls_key_file": ("server", "tls_key_file"),
        "witness_policy_file": ("audit", "witness_policy_file"),
    }.items():
        if outside.get(setting):
            section(table)[key] = outside[setting]
    state = outside.get("signer_state_file")
    state_dir = Path(state).parent if state else (master_key_file or stage).parent
    audit = section("audit")
    audit["origin"] = origin
    audit["signer_state_file"] = str(state_dir / f"audit-signer.restored-{restore_id}.json")
    backup = section("backup")
    backup["shred_ledger"] = ledger_url
    backup["catalogue"] = catalogue_url
    path.write_text(_render_toml(document), "utf-8")


def _master_key_file(
    header_hint: str | None, option: Path | None, env: Mapping[str, str]
) -> Path | None:
    if option is not None:
        return option
    if env.get(MASTER_KEY_ENV):
        return None
    return Path(header_hint) if header_hint else None


def restore_backup(
    backup_file: Path,
    data_dir: Path,
    env: Mapping[str, str],
    *,
    now: dt.datetime,
    catalogue_url: str | None = None,
    ledger_url: str | None = None,
    master_key_file: Path | None = None,
    database_url_template: str | None = None,
    without_ledger_reason: str | None = None,
    progress: Callable[[str], None] = lambda step: None,
) -> RestoreReport:
    """Restore ``backup_file`` into ``data_dir``; see the module docstring for the steps."""
    _check_target(data_dir)  # (1)
    with opened(backup_file) as source:
        header = read_header(source, backup_file.name)  # (2)
        catalogue = BackupCatalogue(catalogue_url or header.catalogue, must_exist=True)
        ledger = RecoveryLedger(ledger_url or header.shred_ledger, must_exist=True)
        try:
            manifest_key_hint = _catalogue_master_hint(header)
            key_file = _master_key_file(manifest_key_hint, master_key_file, env)
            try:
                master_key = load_master_key(env, key_file)
            except ServinfoError as error:
                raise BackupError(f"the master key: {error.message}") from None
            key, ledger_seq = _backup_key(header, catalogue, master_key, now)
            ledger_found = ledger.exists()  # (3)
            if ledger_found:
                length = _checked_length(ledger)
                if length < ledger_seq:
                    raise BackupError(
                        f"the shred ledger {ledger.location} holds {length} rows, fewer than the "
                        f"{ledger_seq} it held when backup {header.backup_id} was taken: it is an "
                        "older copy; restore it from where it is kept, never from a backup"
                    )
            stage = data_dir.parent / f".{data_dir.name}.restoring-{header.backup_id.lower()}"
            created: list[str] = []
            restore_id = header.backup_id.lower()[-10:] + now.strftime("%Y%m%dt%H%M%S")
            try:
                stage.mkdir(mode=0o700, parents=True)
                progress("unpacking")
                manifest, databases = _unpack(  # (4)
                    source, key, header, stage, backup_file.name
                )
                control_url, region_urls = _database_urls(manifest, database_url_template)
                progress("placing databases")
                _place_databases(databases, control_url, region_urls, stage, created)
                shutil.rmtree(stage / ".restore-databases")
                origin = f"{manifest['audit_origin']}/restored-{restore_id}"
                _new_settings(  # (5)
                    stage,
                    manifest,
                    control_url=control_url,
                    region_urls=region_urls,
                    master_key_file=key_file.resolve() if key_file is not None else None,
                    catalogue_url=_url_of(catalogue_url or header.catalogue),
                    ledger_url=_url_of(ledger_url or header.shred_ledger),
                    origin=origin,
                    restore_id=restore_id,
                )
                _write_state(
                    stage,
                    {
                        "state": _REPLAYING,
                        "backup_id": header.backup_id,
                        "ledger_seq": ledger_seq,
                        "previous_origin": manifest["audit_origin"],
                        "signer_state_file": (manifest.get("outside") or {}).get(
                            "signer_state_file"
                        ),
                    },
                )
                if data_dir.exists():
                    data_dir.rmdir()
                os.replace(stage, data_dir)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                _drop_postgres(created)
                raise
        finally:
            catalogue.close()
    progress("stamping and a new audit log")
    settings = load_settings(data_dir, env)
    _bump_generations(settings.control_url, settings.region_urls)  # (6)
    from servinfo.audit.rebase import start_new_log

    control = _engine(settings.control_url)
    try:
        start_new_log(control)  # (7)
    finally:
        control.dispose()
    from servinfo.deployment import open_deployment

    with open_deployment(data_dir, env, allow_unreplayed=True) as deployment:
        _first_entry(deployment, data_dir, header.backup_id)
        if ledger_found:
            progress("replaying the shred ledger")
            replayed = _replay(deployment, ledger, ledger_seq, now=now, progress=progress)  # (8)
            _finish(deployment, data_dir, ledger, header.backup_id, ledger_seq, replayed, now)
            return RestoreReport(
                header.backup_id,
                data_dir,
                True,
                deployment.audit.origin,
                str(manifest["audit_origin"]),
                replayed,
                ledger.location,
            )
        ledger.close()
        state = dict(restore_state(data_dir) or {})
        if without_ledger_reason is not None:
            _accept(deployment, data_dir, without_ledger_reason, state, now)
            return RestoreReport(
                header.backup_id,
                data_dir,
                False,
                deployment.audit.origin,
                str(manifest["audit_origin"]),
            )
        _write_state(data_dir, {**state, "state": NOT_REPLAYED})  # (9)
        deployment.audit.record(
            "restore",
            actor=RESTORE_ACTOR,
            outcome=NOT_REPLAYED,
            details={"backup_id": header.backup_id, "shred_ledger": ledger.location},
        )
        return RestoreReport(
            header.backup_id,
            data_dir,
            False,
            deployment.audit.origin,
            str(manifest["audit_origin"]),
            shred_ledger=ledger.location,
        )


def _url_of(location: str) -> str:
    return location if "://" in location else "sqlite:///" + str(Path(location).resolve())


def _catalogue_master_hint(header: BackupHeader) -> str | None:
    return header.master_key_file or None


def _checked_length(ledger: RecoveryLedger) -> int:
    try:
        return ledger.verify()
    except LedgerError as error:
        raise BackupError(f"the shred ledger cannot be replayed: {error.message}") from None


def _engine(url: str) -> Engine:
    from servinfo.store import create_engine_for

    return create_engine_for(url)


def _bump_generations(control_url: str, region_urls: Mapping[str, str]) -> None:
    from servinfo.store.identity import bump_generation

    control = _engine(control_url)
    try:
        bump_generation(control)
        for url in region_urls.values():
            region = _engine(url)
            try:
                bump_generation(control, region)
            finally:
                region.dispose()
    finally:
        control.dispose()


def _first_entry(deployment: Deployment, data_dir: Path, backup_id: str) -> None:
    """(7) The new log's first entry: the old origin and its signer's last checkpoint."""
    from servinfo.audit.rebase import LOG_RESTORED

    state = restore_state(data_dir) or {}
    previous: dict[str, str | int] = {"previous_origin": str(state.get("previous_origin", ""))}
    signer_file = state.get("signer_state_file")
    if isinstance(signer_file, str):
        previous.update(_last_checkpoint(Path(signer_file)))
    deployment.audit.record(
        LOG_RESTORED,
        actor=RESTORE_ACTOR,
        outcome="new_origin",
        details={"backup_id": backup_id, **previous},
    )
    deployment.audit.checkpoint()


def _last_checkpoint(signer_file: Path) -> dict[str, str | int]:
    """The last checkpoint the old log's signer signed: size, root hash and the signed note."""
    from servinfo.audit.checkpoint import Checkpoint

    try:
        document = json.loads(signer_file.read_text("utf-8"))
        note = str(document["note"])
        checkpoint = Checkpoint.from_body((note.split("\n\n", 1)[0] + "\n").encode())
    except (OSError, ValueError, KeyError, ServinfoError):
        return {"previous_checkpoint": "unavailable"}
    return {
        "previous_size": checkpoint.size,
        "previous_root": checkpoint.root_hash.hex(),
        "previous_checkpoint": note,
    }


# -- (8) replay ------------------------------------------------------------------------


def _replay(
    deployment: Deployment,
    ledger: RecoveryLedger,
    start: int,
    *,
    now: dt.datetime,
    progress: Callable[[str], None] = lambda step: None,
) -> dict[str, int]:
    counts = {"erasures": 0, "subjects_erased": 0, "key_pages": 0, "keys_destroyed": 0}
    subjects: dict[tuple[str, str], str] | None = None
    for entry in ledger.entries(start):
        if entry.kind == ERASURE:
            counts["erasures"] += 1
            if subjects is None:
                subjects = {}
            subject_id = _subject_of(deployment, entry.body, subjects)
            if subject_id is not None:
                _erase_again(deployment, subject_id, entry.body, entry.at)
                counts["subjects_erased"] += 1
        elif entry.kind == KEYS_DESTROYED:
            from servinfo.store.replay import destroy_keys

            region = str(entry.body["region"])
            engine = deployment.regions.get(region)
            if engine is not None:
                counts["key_pages"] += 1
                counts["keys_destroyed"] += destroy_keys(engine, list(entry.body["keys"]))
    from servinfo.retention.sweep import run_sweep

    progress("sweeping")
    swept = 0
    for region in sorted(deployment.regions):
        swept += run_sweep(deployment, region, now=now).deleted_total
    counts["records_swept_now"] = swept
    return counts


def _subject_of(
    deployment: Deployment, body: Mapping[str, Any], known: dict[tuple[str, str], str]
) -> str | None:
    """The restored subject whose keyed pseudonym the ledger row names (None: not in the copy)."""
    from servinfo.store.models import SubjectRow

    key_id = str(body["pseudonym_key_id"])
    pseudonym = str(body["pseudonym"])
    if not any(k == key_id for k, _ in known):
        try:
            key = deployment.keyring.get(key_id)
        except ServinfoError:
            raise BackupError(
                f"a shred-ledger row is keyed with pseudonym key {key_id}, which the backup's "
                "keyring lacks: restore the keyring file kept with the key material"
            ) from None
        pseudonymizer = Pseudonymizer(key)
        with deployment.control.connect() as connection:
            for (subject_id,) in connection.execute(select(SubjectRow.subject_id)):
                known[(key_id, pseudonymizer.pseudonym(subject_id))] = subject_id
    return known.get((key_id, pseudonym))


def _erase_again(
    deployment: Deployment, subject_id: str, body: Mapping[str, Any], at: dt.datetime
) -> None:
    kept = [str(c) for c in body.get("kept_classes", [])]
    deployment.writer.erase_subject(subject_id, kept, now=at)
    if not body.get("held", False):
        deployment.audit.forget_subject(subject_id)
        deployment.ledgers.unlink_subject(subject_id)
        deployment.principals.remove_bound_to(subject_id)


def _finish(
    deployment: Deployment,
    data_dir: Path,
    ledger: RecoveryLedger,
    backup_id: str,
    start: int,
    replayed: Mapping[str, int],
    now: dt.datetime,
) -> None:
    end = ledger.length()
    deployment.shred_ledger.append(
        RESTORE,
        {"backup_id": backup_id, "replayed_from": start, "replayed_to": end,
         "origin": deployment.audit.origin},
        deployment_id=deployment.deployment_id,
        at=now,
    )  # fmt: skip
    deployment.audit.record(
        "restore",
        actor=RESTORE_ACTOR,
        outcome="replayed",
        details={"backup_id": backup_id, "replayed_from": start, "replayed_to": end, **replayed},
    )
    ledger.close()
    (data_dir / RESTORE_STATE_FILE).unlink(missing_ok=True)


def _accept(
    deployment: Deployment,
    data_dir: Path,
    reason: str,
    state: Mapping[str, Any],
    now: dt.datetime,
) -> None:
    reason = reason.strip()
    if not reason:
        raise BackupError("--reason must say why the restore is accepted without the ledger")
    _logger.error(
        "restore of backup %s accepted WITHOUT replaying the shred ledger: erased subjects "
        "may be back",
        state.get("backup_id"),
    )
    deployment.audit.record(
        RESTORE_OVERRIDE,
        actor=RESTORE_ACTOR,
        outcome="accepted_without_shred_ledger",
        details={"backup_id": str(state.get("backup_id", "")), "reason": reason},
    )
    try:
        deployment.shred_ledger.append(
            RESTORE_OVERRIDE,
            {"backup_id": str(state.get("backup_id", "")), "reason": reason},
            deployment_id=deployment.deployment_id,
            at=now,
        )
    except LedgerError as error:
        _logger.error("the override could not be written to the shred ledger: %s", error.message)
    (data_dir / RESTORE_STATE_FILE).unlink(missing_ok=True)


def accept_without_ledger(
    data_dir: Path, env: Mapping[str, str], *, reason: str, now: dt.datetime
) -> str:
    """Let a restored deployment serve without its ledger replayed (audited); the backup id."""
    state = restore_state(data_dir)
    if state is None:
        raise BackupError(f"{data_dir} is not a restore awaiting its shred ledger")
    from servinfo.deployment import open_deployment

    with open_deployment(data_dir, env, allow_unreplayed=True) as deployment:
        _accept(deployment, data_dir, reason, state, now)
    return str(state.get("backup_id", ""))


def replay_ledger(
    data_dir: Path, env: Mapping[str, str], *, now: dt.datetime, ledger_url: str | None = None
) -> RestoreReport:
    """Replay the shred ledger into a restore that could not find it; clears the mark."""
    state = restore_state(data_dir)
    if state is None:
        raise BackupError(f"{data_dir} is not a restore awaiting its shred ledger")
    from servinfo.deployment import open_deployment

    with open_deployment(data_dir, env, allow_unreplayed=True) as deployment:
        url = ledger_url or deployment.settings.backup_shred_ledger_url
        ledger = RecoveryLedger(url, must_exist=True)
        if not ledger.exists():
            raise BackupError(f"the shred ledger {ledger.location} does not exist")
        start = int(state.get("ledger_seq", 0))
        if _checked_length(ledger) < start:
            raise BackupError(f"the shred ledger {ledger.location} is an older copy")
        replayed = _replay(deployment, ledger, start, now=now)
        backup_id = str(state.get("backup_id", ""))
        _finish(deployment, data_dir, ledger, backup_id, start, replayed, now)
        return RestoreReport(
            backup_id, data_dir, True, deployment.audit.origin,
            str(state.get("previous_origin", "")), replayed, ledger.location,
        )  # fmt: skip

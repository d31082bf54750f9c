"""Settings: read once at start-up into one typed object, then passed in explicitly.

A deployment lives in a data directory, found through ``--data-dir``, else
``SERVINFO_DATA_DIR``, else ``./servinfo-data``. Its ``servinfo.toml`` holds the
settings below; each key can be overridden by the environment variable named
beside it in :data:`SETTINGS` (``SERVINFO_<SECTION>_<KEY>``). Relative paths and
relative SQLite URLs are resolved against the data directory, so that a data
directory can be moved or restored elsewhere.

The master key is *not* a setting: it comes from ``SERVINFO_MASTER_KEY`` or the
0600 file named by ``keys.master_key_file`` (see :mod:`servinfo.crypto.master`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servinfo.errors import ServinfoError

CONFIG_FILE_NAME = "servinfo.toml"
DATA_DIR_ENV = "SERVINFO_DATA_DIR"
DEFAULT_DATA_DIR = Path("servinfo-data")
DEFAULT_REGIONS = ("eu", "uk", "ch", "us", "apac")
_MIB = 1024 * 1024
#: How much a DRP action needs verified (servinfo.rights.drp.matching), weakest first.
DRP_VERIFICATION_LEVELS = ("none", "verified", "verified_both", "consumer")
DRP_DEFAULT_VERIFICATION = {"opt_out": "none", "deletion": "verified", "access": "verified_both"}


class ConfigError(ServinfoError):
    """The configuration is missing, unreadable or has a bad value."""

    code = "config_error"


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    kind: type
    default: Any

    @property
    def env(self) -> str:
        return f"SERVINFO_{self.section}_{self.key}".upper()


#: Every setting servinfo reads, with its environment variable and default.
SETTINGS: tuple[Setting, ...] = (
    Setting("policy", "file", str, ""),
    Setting("database", "control", str, "sqlite:///control.db"),
    Setting("keys", "master_key_file", str, "master.key"),
    Setting("keys", "keyring_file", str, "keyring.json"),
    Setting("keys", "local_demo", bool, False),
    Setting("server", "host", str, "127.0.0.1"),
    Setting("server", "port", int, 8443),
    Setting("server", "workers", int, 1),
    Setting("server", "tls_cert_file", str, "tls/server.crt"),
    Setting("server", "tls_key_file", str, "tls/server.key"),
    Setting("server", "header_timeout_seconds", int, 10),
    Setting("server", "body_timeout_seconds", int, 30),
    Setting("server", "keepalive_timeout_seconds", int, 5),
    Setting("server", "trusted_proxies", str, ""),
    Setting("limits", "max_body_bytes", int, 16 * _MIB),
    Setting("limits", "max_request_bytes", int, 1 * _MIB),
    Setting("limits", "max_record_bytes", int, 1 * _MIB),
    Setting("limits", "idempotency_ttl_hours", int, 24),
    Setting("limits", "key_cache_size", int, 32_768),
    # Records a retention sweep deletes per transaction; 0: 1,000 on SQLite, 10,000 on PostgreSQL.
    Setting("retention", "batch_size", int, 0),
    # Days a closed data-subject request's case file is kept (from its completion): 3 years.
    Setting("rights", "request_retention_days", int, 3 * 365),
    # Data Rights Protocol (docs/drp.md): the business-id agents address, as in the DRP
    # directory ([A-Z_]+); the oldest message accepted; how far ahead an agent's clock may be.
    Setting("drp", "business_id", str, "IMS_NETWORK"),
    Setting("drp", "max_age_seconds", int, 3600),
    Setting("drp", "clock_skew_seconds", int, 60),
    # Which claims suffice per action: none, verified, verified_both or consumer.
    Setting("drp", "verify_opt_out", str, "none"),
    Setting("drp", "verify_deletion", str, "verified"),
    Setting("drp", "verify_access", str, "verified_both"),
    # Agents whose email_verified / phone_number_verified servinfo relies on ("*": all).
    Setting("drp", "trusted_agents", str, ""),
    # Where persons confirm their identity (user_verification_url); empty: https://host:port.
    Setting("drp", "public_url", str, ""),
    # Status callbacks: plain http allowed? Addresses or networks reachable though not public.
    Setting("drp", "callback_allow_http", bool, False),
    Setting("drp", "callback_allow", str, ""),
    Setting("drp", "callback_timeout_seconds", int, 5),
    Setting("rate_limits", "per_address_per_minute", int, 120),
    Setting("rate_limits", "per_target_per_minute", int, 10),
    Setting("health", "integrity_check_seconds", int, 900),
    # How codes reach people (servinfo.rights.delivery): notify.email is smtp, dev_mailbox
    # (.eml files in mailbox_dir: a local demo only) or none; empty: dev_mailbox under
    # keys.local_demo, else none. The smtp_* keys configure smtp; sms is dev or none.
    Setting("notify", "email", str, ""),
    Setting("notify", "mail_from", str, "privacy@servinfo.invalid"),
    Setting("notify", "smtp_host", str, "localhost"),
    Setting("notify", "smtp_port", int, 587),
    Setting("notify", "smtp_tls", str, "starttls"),
    Setting("notify", "smtp_username", str, ""),
    Setting("notify", "smtp_password", str, ""),
    Setting("notify", "smtp_timeout_seconds", int, 10),
    Setting("notify", "mailbox_dir", str, "mailbox"),
    Setting("notify", "sms", str, ""),
    Setting("notify", "sms_dir", str, "sms"),
    # "Send me a code" answers no sooner than this, known address or not (milliseconds).
    Setting("notify", "code_answer_ms", int, 300),
    # The checkpoint signer's state: beside the master key file when empty (never in the data).
    Setting("audit", "signer_state_file", str, ""),
    # The log's name in its checkpoints; empty: <organization domain>/servinfo/<deployment id>.
    Setting("audit", "origin", str, ""),
    # A C2SP tlog-policy file: the witnesses to ask (with URLs) and the quorum auditors expect.
    Setting("audit", "witness_policy_file", str, "witness-policy.txt"),
    # Witnesses inside the operator's network (private addresses); loopback is always allowed.
    Setting("audit", "witness_allow_private", bool, False),
    Setting("audit", "checkpoint_seconds", int, 1),
    # One host signs a log's checkpoints: false on workers elsewhere (they append only).
    Setting("audit", "sign_checkpoints", bool, True),
    # The longest entries may stay without a quorum of witnesses before verify fails.
    Setting("audit", "max_unwitnessed_seconds", int, 3600),
    # The shred ledger and the backup catalogue, kept where backups are not: each a file path
    # or a database URL; empty: shred-ledger.db / backup-catalogue.db beside the signer's state.
    Setting("backup", "shred_ledger", str, ""),
    Setting("backup", "catalogue", str, ""),
)


def region_url_env(region: str) -> str:
    return f"SERVINFO_DATABASE_REGION_{region.upper()}"


class NotifySecret(str):
    """A notify setting that is a secret (the SMTP password): never shown in a repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<secret>'" if self else "''"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    #: The deployment's policy file, or None for the policy shipped with servinfo.
    policy_file: Path | None
    control_url: str
    region_urls: Mapping[str, str]
    master_key_file: Path
    keyring_file: Path
    #: Set by ``servinfo init --local-demo`` (``make run``): the master key may sit beside
    #: the data without a warning. Never guessed from the paths.
    local_demo: bool
    host: str
    port: int
    workers: int
    tls_cert_file: Path
    tls_key_file: Path
    #: Connection timeouts, in seconds (see servinfo.api._protocol).
    header_timeout_seconds: int
    body_timeout_seconds: int
    keepalive_timeout_seconds: int
    #: Addresses whose X-Forwarded-For / X-Forwarded-Proto are believed; none by default.
    trusted_proxies: tuple[str, ...]
    #: The body limit of the ingest routes, which stream their bodies.
    max_body_bytes: int
    #: The body limit of every other route (see servinfo.api.limits).
    max_request_bytes: int
    max_record_bytes: int
    idempotency_ttl_hours: int
    #: Unwrapped data keys kept in memory per region (about 2.6 KB each).
    key_cache_size: int
    #: Requests a minute to the routes that need no token (servinfo.api.ratelimit); 0: none.
    rate_per_address_per_minute: int
    rate_per_target_per_minute: int
    #: Seconds between the background integrity checks of the stores; 0: at start only.
    integrity_check_seconds: int = 900
    #: How codes reach people (servinfo.rights.delivery): smtp, dev_mailbox or none.
    notify_email: str = "none"
    notify_mail_from: str = "privacy@servinfo.invalid"
    notify_smtp_host: str = "localhost"
    notify_smtp_port: int = 587
    #: starttls, implicit or none.
    notify_smtp_tls: str = "starttls"
    notify_smtp_username: str = ""
    #: A NotifySecret when loaded: its repr hides it.
    notify_smtp_password: str = ""
    notify_smtp_timeout_seconds: int = 10
    notify_mailbox_dir: Path = Path("mailbox")
    #: dev or none.
    notify_sms: str = "none"
    notify_sms_dir: Path = Path("sms")
    #: The least time "send me a code" takes to answer, known address or not.
    notify_code_answer_ms: int = 300
    #: Records per retention-sweep transaction (0: chosen per backend).
    retention_batch_size: int = 0
    #: Days a closed data-subject request's case file is kept (servinfo.rights.unlinking).
    request_retention_days: int = 3 * 365
    #: The Data Rights Protocol (servinfo.rights.drp): see docs/drp.md.
    drp_business_id: str = "IMS_NETWORK"
    drp_max_age_seconds: int = 3600
    drp_clock_skew_seconds: int = 60
    #: Per action (opt_out, deletion, access): one of DRP_VERIFICATION_LEVELS.
    drp_verification: Mapping[str, str] = field(
        default_factory=lambda: dict(DRP_DEFAULT_VERIFICATION)
    )
    drp_trusted_agents: tuple[str, ...] = ()
    drp_public_url: str = ""
    drp_callback_allow_http: bool = False
    drp_callback_allow: str = ""
    drp_callback_timeout_seconds: int = 5
    #: The checkpoint signer's state file (kept with the key material).
    audit_signer_state_file: Path = Path("audit-signer.json")
    #: The audit log's origin, or "" to derive it (servinfo.deployment.runtime).
    audit_origin: str = ""
    #: The deployment's witness policy (C2SP tlog-policy); absent: no witnesses.
    audit_witness_policy_file: Path = Path("witness-policy.txt")
    audit_checkpoint_seconds: int = 1
    audit_max_unwitnessed_seconds: int = 3600
    #: Let witness URLs resolve to private and link-local addresses.
    audit_witness_allow_private: bool = False
    #: Whether this host signs checkpoints (one host per deployment does).
    audit_sign_checkpoints: bool = True
    #: The shred ledger's and the backup catalogue's database URLs (servinfo.retention.ledger).
    backup_shred_ledger_url: str = ""
    backup_catalogue_url: str = ""

    @property
    def config_file(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME


def resolve_data_dir(option: Path | None, env: Mapping[str, str]) -> Path:
    """``--data-dir``, else ``SERVINFO_DATA_DIR``, else ``./servinfo-data``."""
    if option is not None:
        return option
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV])
    return DEFAULT_DATA_DIR


def resolve_url(url: str, data_dir: Path) -> str:
    """Anchor a relative SQLite URL (``sqlite:///x.db``) in the data directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + str((data_dir / url[len(prefix) :]).resolve())
    return url


def _resolve_path(value: str, data_dir: Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else data_dir / path


def _coerce(setting: Setting, raw: object, origin: str) -> Any:
    if setting.kind is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in ("true", "1", "false", "0"):
            return str(raw).strip().lower() in ("true", "1")
        raise ConfigError(f"{origin}: expected true or false, got {raw!r}")
    if setting.kind is int:
        if isinstance(raw, bool):
            raise ConfigError(f"{origin}: expected a whole number, got {raw!r}")
        try:
            value = int(str(raw))
        except ValueError:
            raise ConfigError(f"{origin}: expected a whole number, got {raw!r}") from None
        if value < 0:
            raise ConfigError(f"{origin}: expected a non-negative number, got {value}")
        return value
    if not isinstance(raw, str):
        raise ConfigError(f"{origin}: expected text, got {raw!r}")
    return raw


def _notify_choice(
    values: Mapping[str, Any],
    key: str,
    choices: tuple[str, ...],
    *,
    default: str,
    demo: str | None = None,
) -> str:
    """``notify.<key>``, one of ``choices``; empty: ``demo`` for a local demo (``make run``),
    else ``default``."""
    value = str(values[f"notify.{key}"]).strip()
    if not value:
        return demo if demo is not None and values["keys.local_demo"] else default
    if value not in choices:
        raise ConfigError(
            f"{CONFIG_FILE_NAME} notify.{key}: expected one of {', '.join(choices)}, got {value!r}"
        )
    return value


def read_config_file(data_dir: Path) -> dict[str, Any]:
    path = data_dir / CONFIG_FILE_NAME
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"no deployment at {data_dir}: {CONFIG_FILE_NAME} not found "
            "(run 'servinfo init', or pass --data-dir / set SERVINFO_DATA_DIR)"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


def load_settings(data_dir: Path, env: Mapping[str, str]) -> Settings:
    """The settings of the deployment in ``data_dir``, environment overrides applied."""
    document = read_config_file(data_dir)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        section = document.get(setting.section, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{CONFIG_FILE_NAME}: [{setting.section}] must be a table")
        if setting.env in env:
            raw: object = env[setting.env]
            origin = setting.env
        else:
            raw = section.get(setting.key, setting.default)
            origin = f"{CONFIG_FILE_NAME} {setting.section}.{setting.key}"
        values[f"{setting.section}.{setting.key}"] = _coerce(setting, raw, origin)

    regions = document.get("database", {}).get("regions")
    if not isinstance(regions, dict) or not regions:
        raise ConfigError(f"{CONFIG_FILE_NAME}: [database.regions] must map each region to a URL")
    region_urls = {}
    for region, url in regions.items():
        raw_url = env.get(region_url_env(region), url)
        if not isinstance(raw_url, str) or not raw_url:
            raise ConfigError(f"{CONFIG_FILE_NAME}: database.regions.{region} must be a URL")
        region_urls[region] = resolve_url(raw_url, data_dir)

    policy = values["policy.file"]
    return Settings(
        data_dir=data_dir,
        policy_file=_resolve_path(policy, data_dir) if policy else None,
        control_url=resolve_url(values["database.control"], data_dir),
        region_urls=region_urls,
        master_key_file=_resolve_path(values["keys.master_key_file"], data_dir),
        keyring_file=_resolve_path(values["keys.keyring_file"], data_dir),
        local_demo=values["keys.local_demo"],
        host=values["server.host"],
        port=values["server.port"],
        workers=max(1, values["server.workers"]),
        tls_cert_file=_resolve_path(values["server.tls_cert_file"], data_dir),
        tls_key_file=_resolve_path(values["server.tls_key_file"], data_dir),
        header_timeout_seconds=max(1, values["server.header_timeout_seconds"]),
        body_timeout_seconds=max(1, values["server.body_timeout_seconds"]),
        keepalive_timeout_seconds=max(1, values["server.keepalive_timeout_seconds"]),
        trusted_proxies=tuple(
            address.strip()
            for address in values["server.trusted_proxies"].split(",")
            if address.strip()
        ),
        max_body_bytes=values["limits.max_body_bytes"],
        max_request_bytes=values["limits.max_request_bytes"],
        max_record_bytes=values["limits.max_record_bytes"],
        idempotency_ttl_hours=values["limits.idempotency_ttl_hours"],
        key_cache_size=max(1, values["limits.key_cache_size"]),
        rate_per_address_per_minute=values["rate_limits.per_address_per_minute"],
        rate_per_target_per_minute=values["rate_limits.per_target_per_minute"],
        integrity_check_seconds=values["health.integrity_check_seconds"],
        notify_email=_notify_choice(
            values, "email", ("smtp", "dev_mailbox", "none"), default="none", demo="dev_mailbox"
        ),
        notify_mail_from=values["notify.mail_from"],
        notify_smtp_host=values["notify.smtp_host"],
        notify_smtp_port=values["notify.smtp_port"],
        notify_smtp_tls=_notify_choice(
            values, "smtp_tls", ("starttls", "implicit", "none"), default="starttls"
        ),
        notify_smtp_username=values["notify.smtp_username"],
        notify_smtp_password=NotifySecret(values["notify.smtp_password"]),
        notify_smtp_timeout_seconds=max(1, values["notify.smtp_timeout_seconds"]),
        notify_mailbox_dir=_resolve_path(values["notify.mailbox_dir"], data_dir),
        notify_sms=_notify_choice(values, "sms", ("dev", "none"), default="none", demo="dev"),
        notify_sms_dir=_resolve_path(values["notify.sms_dir"], data_dir),
        notify_code_answer_ms=values["notify.code_answer_ms"],
        retention_batch_size=max(0, values["retention.batch_size"]),
        request_retention_days=max(1, values["rights.request_retention_days"]),
        drp_business_id=_drp_business_id(values["drp.business_id"]),
        drp_max_age_seconds=max(1, values["drp.max_age_seconds"]),
        drp_clock_skew_seconds=values["drp.clock_skew_seconds"],
        drp_verification={
            action: _drp_level(action, values[f"drp.verify_{action}"])
            for action in DRP_DEFAULT_VERIFICATION
        },
        drp_trusted_agents=_names(values["drp.trusted_agents"]),
        drp_public_url=values["drp.public_url"].rstrip("/"),
        drp_callback_allow_http=values["drp.callback_allow_http"],
        drp_callback_allow=values["drp.callback_allow"],
        drp_callback_timeout_seconds=max(1, values["drp.callback_timeout_seconds"]),
        audit_signer_state_file=_resolve_path(values["audit.signer_state_file"], data_dir)
        if values["audit.signer_state_file"]
        else _resolve_path(values["keys.master_key_file"], data_dir).parent / "audit-signer.json",
        audit_origin=values["audit.origin"],
        audit_witness_policy_file=_resolve_path(values["audit.witness_policy_file"], data_dir),
        audit_checkpoint_seconds=max(0, values["audit.checkpoint_seconds"]),
        audit_max_unwitnessed_seconds=max(0, values["audit.max_unwitnessed_seconds"]),
        audit_witness_allow_private=values["audit.witness_allow_private"],
        audit_sign_checkpoints=values["audit.sign_checkpoints"],
        backup_shred_ledger_url=_recovery_url(values, "shred_ledger", data_dir),
        backup_catalogue_url=_recovery_url(values, "catalogue", data_dir),
    )


def _recovery_url(values: Mapping[str, Any], key: str, data_dir: Path) -> str:
    """``backup.<key>`` as a database URL: a URL as given, a path as a SQLite file (relative
    to the data directory), or by default a file beside the audit signer's state."""
    value = str(values[f"backup.{key}"])
    if "://" in value:
        return resolve_url(value, data_dir)
    if value:
        return "sqlite:///" + str(_resolve_path(value, data_dir).resolve())
    if values["audit.signer_state_file"]:
        state_dir = _resolve_path(values["audit.signer_state_file"], data_dir).parent
    else:
        state_dir = _resolve_path(values["keys.master_key_file"], data_dir).parent
    name = {"shred_ledger": "shred-ledger.db", "catalogue": "backup-catalogue.db"}[key]
    return "sqlite:///" + str((state_dir / name).resolve())


def _drp_business_id(value: str) -> str:
    if not re.fullmatch(r"[A-Z_]+", value):
        raise ConfigError(
            f"{CONFIG_FILE_NAME} drp.business_id: expected capitals and '_' "
            f"(the DRP directory's [A-Z_]+), got {value!r}"
        )
    return value


def _drp_level(action: str, value: str) -> str:
    if value not in DRP_VERIFICATION_LEVELS:
        raise ConfigError(
            f"{CONFIG_FILE_NAME} drp.verify_{action}: expected one of "
            f"{', '.join(DRP_VERIFICATION_LEVELS)}, got {value!r}"
        )
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def render_config_file(
    region_urls: Mapping[str, str],
    control_url: str,
    policy_file: str = "",
    *,
    master_key_file: str | None = None,
    local_demo: bool = False,
) -> str:
    """The ``servinfo.toml`` that ``servinfo init`` writes: every key, with its variable."""
    lines = [
        "# servinfo deployment settings. Each key can be overridden by the environment",
        "# variable named beside it. Relative paths are relative to this directory.",
        "",
    ]
    section = ""
    for setting in SETTINGS:
        if setting.section != section:
            section = setting.section
            lines += ["", f"[{section}]"] if len(lines) > 3 else [f"[{section}]"]
        value = setting.default
        if (setting.section, setting.key) == ("database", "control"):
            value = control_url
        if (setting.section, setting.key) == ("policy", "file"):
            value = policy_file
        if (setting.section, setting.key) == ("keys", "master_key_file") and master_key_file:
            value = master_key_file
        if (setting.section, setting.key) == ("keys", "local_demo"):
            value = local_demo
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        else:
            rendered = str(value) if isinstance(value, int) else _toml_string(str(value))
        lines.append(f"{setting.key} = {rendered}  # {setting.env}")
    lines += ["", "[database.regions]"]
    for region, url in region_urls.items():
        lines.append(f"{region} = {_toml_string(url)}  # {region_url_env(region)}")
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

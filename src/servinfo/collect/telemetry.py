"""Structured telemetry as the policy says: IP addresses truncated or pseudonymized.

A telemetry field's ``telemetry`` treatment is applied on arrival, so the
full value is never stored:

* ``truncate`` keeps the network, not the host: an IPv4 address becomes its
  /24, an IPv6 address its /48 (``203.0.113.0/24``), as the read views do;
* ``pseudonymize`` replaces the value with ``pseudonym:<32 hex>``, a keyed
  HMAC-SHA256 under the keyring's ``telemetry_pseudonym`` key, domain-separated
  by field name. The key rotates every *period* (30 days by default): the
  first use after the current version has grown older than the period adds a
  new version (:meth:`Keyring.rotate`, under the keyring's file lock), so the
  same address gets unlinkable pseudonyms in different periods. Other workers
  pick the new version up when they next see their copy has aged past the
  period (they reload the keyring file before rotating, and rotate only if it
  is still old); two workers racing may add two versions a moment apart,
  which is harmless.

The HMAC is computed by :class:`servinfo.crypto.Pseudonymizer` under the
``pseudonym`` key with the current ``telemetry_pseudonym`` secret as its salt:
the output depends on both keys, changes when the telemetry key rotates, and
never equals the read views' pseudonyms (which are unsalted).

Other fields (user agents …) are kept as they are.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable

from servinfo.access.views import truncate_ip
from servinfo.crypto import PSEUDONYM, Keyring, KeyringError, KeyVersion, Pseudonymizer

__all__ = ["DEFAULT_PSEUDONYM_PERIOD", "TELEMETRY_PSEUDONYM", "TelemetryTreatment"]

#: The keyring purpose of the key that telemetry pseudonyms rotate with.
TELEMETRY_PSEUDONYM = "telemetry_pseudonym"
#: How long one version of that key is used before a new one is made.
DEFAULT_PSEUDONYM_PERIOD = dt.timedelta(days=30)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TelemetryTreatment:
    """Applies ``truncate`` and ``pseudonymize`` to the telemetry fields of a record."""

    def __init__(
        self,
        keyring: Keyring,
        *,
        period: dt.timedelta = DEFAULT_PSEUDONYM_PERIOD,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._keyring = keyring
        self._period = period
        self._clock = clock
        self._lock = threading.Lock()
        self._current: tuple[KeyVersion, Pseudonymizer] | None = None

    @property
    def key_id(self) -> str:
        """The ``telemetry_pseudonym`` version in use now (rotating it if due)."""
        return self._pseudonymizer()[0].key_id

    def apply(
        self, fields: dict[str, object], truncate: Iterable[str], pseudonymize: Iterable[str]
    ) -> None:
        """Treat ``fields`` in place: truncate and pseudonymize the named fields present."""
        for name in truncate:
            value = fields.get(name)
            if isinstance(value, str):
                fields[name] = truncate_ip(value)
        for name in pseudonymize:
            value = fields.get(name)
            if value is not None:
                key, pseudonymizer = self._pseudonymizer()
                digest = pseudonymizer.pseudonym(f"{name}:{value}", salt=key.secret)
                fields[name] = "pseudonym:" + digest

    def _pseudonymizer(self) -> tuple[KeyVersion, Pseudonymizer]:
        with self._lock:
            current = self._current
            if current is None or self._aged(current[0]):
                current = self._current = (self._telemetry_key(), self._base())
            return current

    def _aged(self, key: KeyVersion) -> bool:
        return self._clock() - key.created_at >= self._period

    def _base(self) -> Pseudonymizer:
        return Pseudonymizer(self._keyring.current(PSEUDONYM))

    def _telemetry_key(self) -> KeyVersion:
        keyring = self._keyring
        now = self._clock()
        if TELEMETRY_PSEUDONYM not in keyring.purposes():
            keyring.reload()  # another worker may have added it
        if TELEMETRY_PSEUDONYM not in keyring.purposes():
            try:
                return keyring.add_purpose(TELEMETRY_PSEUDONYM, now=now)
            except KeyringError:  # lost the race to add it: use the winner's
                keyring.reload()
                return keyring.current(TELEMETRY_PSEUDONYM)
        key = keyring.current(TELEMETRY_PSEUDONYM)
        if self._aged(key):
            keyring.reload()  # another worker may have rotated it already
            key = keyring.current(TELEMETRY_PSEUDONYM)
            if self._aged(key):
                key = keyring.rotate(TELEMETRY_PSEUDONYM, now=now)
        return key

"""The last holder of the administrative roles cannot be revoked, even by a race.

Run on SQLite and on PostgreSQL (the ``control_engine`` fixture): two
administrators revoking each other at the same moment must leave one.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from servinfo.crypto import hash_token, new_token
from servinfo.store import LastAdministrator, PrincipalStore, UnknownPrincipal

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
#: The roles that count as administrative here (the policy's roles holding manage_principals).
ADMIN_ROLES = frozenset({"admin", "privacy_admin"})


def _add(store: PrincipalStore, name: str, role: str) -> None:
    store.add(name, "employee", role, "eu", "ims_eu", hash_token(new_token()), now=NOW)


def test_the_last_administrator_is_kept(control_engine: Engine) -> None:
    store = PrincipalStore(control_engine)
    _add(store, "root", "admin")
    _add(store, "sre-eu", "sre")

    with pytest.raises(LastAdministrator) as refused:
        store.revoke("root", now=NOW, keep_one_of=ADMIN_ROLES)
    assert refused.value.http_status == 409
    assert "'root' is the last active principal" in refused.value.message
    assert store.get("root").active

    # Other principals are revoked as before, and a name that does not exist is still unknown.
    assert not store.revoke("sre-eu", now=NOW, keep_one_of=ADMIN_ROLES).active
    with pytest.raises(UnknownPrincipal):
        store.revoke("nobody", now=NOW, keep_one_of=ADMIN_ROLES)


def test_any_administrative_role_counts_and_revoked_ones_do_not(control_engine: Engine) -> None:
    store = PrincipalStore(control_engine)
    _add(store, "root", "admin")
    _add(store, "dpo", "privacy_admin")
    _add(store, "old-root", "admin")
    store.revoke("old-root", now=NOW, keep_one_of=ADMIN_ROLES)

    assert not store.revoke("root", now=NOW, keep_one_of=ADMIN_ROLES).active
    with pytest.raises(LastAdministrator):
        store.revoke("dpo", now=NOW, keep_one_of=ADMIN_ROLES)
    # Revoking an already revoked administrator changes nothing and is no error.
    assert store.revoke("old-root", now=NOW, keep_one_of=ADMIN_ROLES).revoked_at == NOW


def _race(store: PrincipalStore, first: str, second: str) -> dict[str, str]:
    """Revoke ``first`` and ``second`` from two threads released at the same moment."""
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def revoke(name: str) -> None:
        start.wait()
        try:
            store.revoke(name, now=NOW, keep_one_of=ADMIN_ROLES)
            outcomes[name] = "revoked"
        except LastAdministrator:
            outcomes[name] = "kept"

    threads = [threading.Thread(target=revoke, args=(n,)) for n in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_administrators_revoking_each_other_at_once_leave_one(
    control_engine: Engine,
) -> None:
    store = PrincipalStore(control_engine)
    for round_ in range(12):
        first, second = f"a{round_}", f"b{round_}"
        _add(store, first, "admin")
        _add(store, second, "admin")
        outcomes = _race(store, first, second)
        assert sorted(outcomes.values()) == ["kept", "revoked"], outcomes
        active = [p.name for p in store.list(include_revoked=False) if p.role in ADMIN_ROLES]
        assert len(active) == 1
        # Clear the round's survivor for the next pair (without keep_one_of the store
        # revokes as it always did: the service is what passes the administrative roles).
        store.revoke(active[0], now=NOW)

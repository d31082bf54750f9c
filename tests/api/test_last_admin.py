"""The last principal who may manage principals cannot be revoked over the API."""

from __future__ import annotations

from tests.api.world import World


def test_the_only_admin_cannot_revoke_itself(world: World) -> None:
    refused = world.client.delete("/v1/principals/admin", headers=world.headers("admin"))
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "last_admin"
    assert (
        "'admin' is the last active principal whose role may manage principals" in (body["detail"])
    )
    # Still the administrator: every call it makes still works.
    listed = world.client.get("/v1/principals", headers=world.headers("admin"))
    assert listed.status_code == 200
    # The refusal is in the audit log.
    last = world.deployment.audit.tail(1)[0]
    assert (last.action, last.outcome) == ("principal_change", "refused")
    assert last.details["principal"] == "admin"


def test_with_a_second_admin_the_first_may_go_and_the_second_must_stay(world: World) -> None:
    added = world.client.post(
        "/v1/principals",
        json={"name": "admin-2", "kind": "employee", "role": "admin", "region": "eu"},
        headers=world.headers("admin"),
    )
    assert added.status_code == 201
    second = {"Authorization": f"Bearer {added.json()['token']}"}

    assert world.client.delete("/v1/principals/admin", headers=second).status_code == 200
    assert world.client.get("/v1/principals", headers=world.headers("admin")).status_code == 401
    refused = world.client.delete("/v1/principals/admin-2", headers=second)
    assert refused.status_code == 409
    # Other principals are revoked as before.
    assert world.client.delete("/v1/principals/support-eu", headers=second).status_code == 200

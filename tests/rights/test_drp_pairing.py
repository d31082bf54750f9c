"""Pairwise key setup and revocation under replay and concurrency (DRP 1.0 sections 2.04, 2.05).

A setup message is accepted once (its digest remembered until it can no longer
validate), never after a newer one, and concurrent setups leave exactly one
active token. A revoke body names the request it revokes and carries the
section 3.07 claims, so that one signed body cannot revoke another request,
and a setup message is no revoke body.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from tests.rights.test_drp import Agent, Drp, drp, make_drp
from tests.rights.world import NOW, build_world
from tests.support import PostgresDatabases

from servinfo.rights.drp import AGENT_KIND
from servinfo.rights.drp.errors import DrpError

__all__ = ["drp"]  # the fixture, re-exported for this module's tests


def _setup(agent: Agent, minutes_ago: float, **claims: Any) -> str:
    envelope = agent.envelope(NOW, **claims)
    envelope["issued-at"] = (NOW - dt.timedelta(minutes=minutes_ago)).isoformat()
    return agent.sign(envelope)


def _active_tokens(drp: Drp, agent: Agent) -> list[str]:
    return [
        principal.name
        for principal in drp.world.deployment.principal_service.all(include_revoked=False)
        if principal.kind == AGENT_KIND and principal.binding == agent.agent_id
    ]


def _pair(drp: Drp, body: str) -> tuple[int, dict[str, Any] | None]:
    answer = drp.world.client.post(f"/v1/agent/{drp.agent.agent_id}", content=body)
    return answer.status_code, answer.json() if answer.content else None


def test_an_older_setup_after_a_newer_one_is_refused(drp: Drp) -> None:
    older, newer = _setup(drp.agent, 0.6, nonce="a"), _setup(drp.agent, 0.3, nonce="b")
    status, paired = _pair(drp, newer)
    assert status == 200
    assert paired is not None
    assert _pair(drp, older) == (403, None)
    token = paired["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert drp.world.client.get(f"/v1/agent/{drp.agent.agent_id}", headers=headers).json() == {}
    assert len(_active_tokens(drp, drp.agent)) == 1


def test_a_setup_message_is_remembered_after_a_newer_one(drp: Drp) -> None:
    first, second = _setup(drp.agent, 0.5, nonce="a"), _setup(drp.agent, 0.2, nonce="b")
    assert _pair(drp, first)[0] == 200
    assert _pair(drp, second)[0] == 200
    assert _pair(drp, first) == (403, None)
    assert _pair(drp, second) == (403, None)
    assert len(_active_tokens(drp, drp.agent)) == 1


def _race(drp: Drp, bodies: list[str]) -> list[str]:
    """Run ``pair`` on every body at once, from threads; the tokens issued."""
    start = threading.Barrier(len(bodies))
    tokens: list[str] = []
    refused: list[str] = []

    def run(body: str) -> None:
        start.wait()
        try:
            _, token = drp.service.agents.pair(drp.agent.agent_id, body.encode(), now=NOW)
        except DrpError as error:
            refused.append(error.code)
        else:
            tokens.append(token)

    threads = [threading.Thread(target=run, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) + len(refused) == len(bodies)
    return tokens


def test_concurrent_identical_setups_issue_one_token(drp: Drp) -> None:
    body = _setup(drp.agent, 0.5, nonce="same")
    tokens = _race(drp, [body] * 6)
    assert len(tokens) == 1
    active = _active_tokens(drp, drp.agent)
    assert len(active) == 1
    assert drp.service.agents.authenticate(tokens[0]).agent_id == drp.agent.agent_id


def test_concurrent_different_setups_leave_one_active_token(drp: Drp) -> None:
    bodies = [_setup(drp.agent, 0.9 - i * 0.1, nonce=str(i)) for i in range(6)]
    tokens = _race(drp, bodies)
    assert tokens
    active = _active_tokens(drp, drp.agent)
    assert len(active) == 1
    working = []
    for token in tokens:
        try:
            drp.service.agents.authenticate(token)
        except DrpError:
            continue
        working.append(token)
    assert len(working) == 1
    assert drp.service.agents.get(drp.agent.agent_id).principal == active[0]


def _open(drp: Drp, action: str = "access") -> str:
    answer = drp.post(drp.agent.sign(drp.agent.exercise(action)))
    assert answer.status_code == 200, answer.text
    request_id: str = answer.json()["request_id"]
    return request_id


def _revoke_body(drp: Drp, request_id: str, **claims: Any) -> str:
    return drp.agent.sign(drp.agent.envelope(NOW, request_id=request_id, reason="no", **claims))


def test_a_revoke_body_revokes_only_the_request_it_names(drp: Drp) -> None:
    first, second = _open(drp), _open(drp, "deletion")
    body = _revoke_body(drp, first)
    misused = drp.delete(second, body)
    assert misused.status_code == 403, misused.text
    assert misused.json()["code"] == "403"
    assert drp.get(second).json()["status"] != "revoked"
    assert drp.delete(first, body).json()["status"] == "revoked"
    assert drp.get(second).json()["status"] != "revoked"


def test_a_revoke_body_without_a_request_or_claims_is_refused(drp: Drp) -> None:
    request_id = _open(drp)
    bare = drp.delete(request_id, drp.agent.sign({"reason": "no", "request_id": request_id}))
    assert bare.status_code == 400
    assert "agent-id" in bare.json()["message"]
    unnamed = drp.delete(request_id, drp.agent.sign(drp.agent.envelope(NOW, reason="no")))
    assert unnamed.status_code == 400
    assert "request_id" in unnamed.json()["message"]
    assert drp.get(request_id).json()["status"] != "revoked"


def test_a_setup_message_is_no_revoke_body(drp: Drp) -> None:
    request_id = _open(drp)
    answer = drp.delete(request_id, _setup(drp.agent, 0.5, nonce="setup"))
    assert answer.status_code == 400
    assert answer.json()["code"] == "400"
    assert drp.get(request_id).json()["status"] != "revoked"


@pytest.mark.postgres
def test_concurrent_setups_issue_one_token_on_postgresql(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    with build_world(tmp_path, postgres_databases.url_template) as world:
        assert world.deployment.control.dialect.name == "postgresql"
        drp = make_drp(world)
        same = _race(drp, [_setup(drp.agent, 0.5, nonce="same")] * 6)
        assert len(same) == 1
        _race(drp, [_setup(drp.agent, 0.4 - i * 0.05, nonce=str(i)) for i in range(6)])
        active = _active_tokens(drp, drp.agent)
        assert len(active) == 1
        assert drp.service.agents.get(drp.agent.agent_id).principal == active[0]

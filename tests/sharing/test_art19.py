"""Art. 19: every recipient of the subject's data is told of a restriction (as of a
rectification and an erasure); a disclosure withheld under a gag order is not told of."""

from __future__ import annotations

from tests.sharing.world import NOW, SUBJECT, World

from servinfo.rights.notifier import OutboxNotifier


def test_a_restriction_is_told_to_every_recipient(world: World) -> None:
    deployment = world.deployment
    deployment.sharing.to_processor(world.principals["mailer"], SUBJECT, "provide", ["account"])
    deployment.sharing.to_processor(
        world.principals["payments"], SUBJECT, "provide", ["payments"], now=NOW
    )
    rights = deployment.rights
    opened = rights.open(
        "restriction", SUBJECT, channel="cli", actor="officer", verified=True,
        parameters={"ground": "accuracy_contested", "allows": ["legal"]},
    )  # fmt: skip
    done = rights.process(opened.request_id, actor="officer")
    assert done.outcome is not None
    assert done.outcome["recipients_notified"] == ["northwind_payments", "relay_mail"]
    told = OutboxNotifier(deployment.control).notices(kind="restriction_notice")
    assert sorted(n.recipient for n in told) == ["northwind_payments", "relay_mail"]

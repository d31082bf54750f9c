"""The access report names the recipients themselves (CJEU C-154/21), not categories, and
leaves out a disclosure withheld under a gag order until the order lifts."""

from __future__ import annotations

import datetime as dt

from tests.sharing.world import NOW, SUBJECT, World

from servinfo.crypto.recipients import new_recipient_key_pair
from servinfo.rights.report import LedgerEntries, art15_information
from servinfo.sharing.legal import LegalScope


def test_the_report_names_every_recipient_and_hides_a_gagged_one(world: World) -> None:
    deployment, sharing = world.deployment, world.deployment.sharing
    sharing.to_processor(world.principals["mailer"], SUBJECT, "provide", ["account"], now=NOW)
    request = sharing.intake(
        world.principals["counsel-a"], authority="Police", country="DE", instrument="order",
        scope=LegalScope((SUBJECT,), ("account",)), deadline=dt.date(2026, 12, 31),
        recipient_key=new_recipient_key_pair().public_text(), gag=True,
    )  # fmt: skip
    sharing.review(world.principals["counsel-b"], request.request_id, decision="approve",
                   reasons="valid")  # fmt: skip
    sharing.disclose_legal(world.principals["officer"], request.request_id)
    policy = deployment.runtime.current.policy
    subject = deployment.directory.get_subject(SUBJECT)

    def recipients() -> list[dict[str, object]]:
        entries = LedgerEntries.of(deployment.ledgers, SUBJECT)
        info = art15_information(policy, subject, "gdpr", [], entries)
        return info["recipients"]  # type: ignore[no-any-return]

    [relay] = recipients()
    assert (relay["name"], relay["kind"], relay["country"]) == (
        "Relay Mail Services Inc.", "processor", "US",
    )  # fmt: skip
    assert relay["bases"] == ["processor"]
    sharing.lift_gag(world.principals["officer"], request.request_id)
    names = [r["name"] for r in recipients()]
    assert names == [f"authority:{request.request_id}", "Relay Mail Services Inc."]

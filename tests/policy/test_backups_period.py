"""The policy's backup period: validated, and stated by the notice and the ROPA."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servinfo.policy import load_policy
from servinfo.policy.model import Backups
from servinfo.policy.notice import BUILD_CAPABILITIES, Capability, render_notice
from servinfo.policy.ropa import ropa_document, ropa_rows


def test_the_notice_and_the_ropa_state_the_backup_period() -> None:
    policy = load_policy(None)
    assert policy.backups is not None
    assert policy.backups.keep_for == "35 days"
    notice = render_notice(policy, "md")
    assert "Backups of Service Information are kept for 35 days after they are taken" in notice
    for row in ropa_rows(policy):
        assert (
            "backups: 35 days after each is taken (its key destroyed)"
            in (row["erasure_time_limits"])
        )
    assert all(r["backups_kept_for"] == "35 days" for r in ropa_document(policy)["records"])


def test_without_a_period_nothing_is_promised() -> None:
    policy = load_policy(None).model_copy(update={"backups": None})
    assert "Backups of Service Information" not in render_notice(policy, "md")
    assert all("backups:" not in row["erasure_time_limits"] for row in ropa_rows(policy))
    without = BUILD_CAPABILITIES - {Capability.EXPIRING_BACKUPS}
    assert "Backups of Service Information" not in render_notice(
        load_policy(None), "md", capabilities=without
    )


def test_a_period_must_be_a_duration() -> None:
    with pytest.raises(ValidationError, match="cannot parse duration"):
        Backups(keep_for="five weeks")

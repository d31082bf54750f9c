"""A worker enforces the active policy version, and swaps when it changes."""

from __future__ import annotations

from pathlib import Path

from servinfo.access.decisions import Actor, SubjectState
from servinfo.deployment import create_deployment, open_deployment
from servinfo.policy import load_policy_text
from servinfo.policy.loading import default_policy_text


def test_activating_a_policy_swaps_every_workers_tables(tmp_path: Path) -> None:
    create_deployment(tmp_path, {})
    worker_a = open_deployment(tmp_path, {})
    worker_b = open_deployment(tmp_path, {})
    try:
        actor = Actor(principal_id="p1", kind="employee", role="sre", region="eu", entity="ims_eu")
        state = SubjectState.unrestricted("s1", "gdpr")
        before = worker_b.runtime.decider.decide(actor, "provide", "account", "eu", state)
        assert before.allowed is False  # sre does not see account information

        widened = load_policy_text(
            default_policy_text().replace(
                "    purposes: [provide, improve_service]\n    categories: [settings, telemetry]\n",
                "    purposes: [provide, improve_service]\n"
                "    categories: [account, settings, telemetry]\n",
                1,
            )
        )
        # Worker A activates it (as `servinfo policy activate` does).
        worker_a.policy_versions.record(widened.version, widened.model_dump_json())
        enforced = worker_b.runtime.refresh(force=True)
        assert enforced.policy.version == widened.version
        after = worker_b.runtime.decider.decide(actor, "provide", "account", "eu", state)
        assert after.allowed is True
        assert after.policy_version == widened.version
    finally:
        worker_a.close()
        worker_b.close()

"""The services of an open deployment: each built once, whatever the threads do."""

from __future__ import annotations

import threading
from pathlib import Path

from servinfo.deployment import create_deployment, open_deployment


def test_request_threads_share_one_of_each_service(tmp_path: Path) -> None:
    data_dir = tmp_path / "deployment"
    create_deployment(data_dir, {})
    with open_deployment(data_dir, {}) as deployment:
        start = threading.Barrier(8)
        seen: list[tuple[int, int, int]] = []

        def first_request() -> None:
            start.wait(10)
            services = (deployment.runtime, deployment.collector, deployment.reads)
            seen.append(tuple(id(service) for service in services))  # type: ignore[arg-type]

        threads = [threading.Thread(target=first_request) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(seen) == 8
        assert len(set(seen)) == 1


def test_prepare_to_serve_builds_the_compiled_policy_before_any_request(tmp_path: Path) -> None:
    data_dir = tmp_path / "deployment"
    create_deployment(data_dir, {})
    with open_deployment(data_dir, {}) as deployment:
        deployment.prepare_to_serve()
        built = deployment.runtime.current
        assert built.policy.version == deployment.policy.version
        assert deployment.collector.compiled().policy is built.policy

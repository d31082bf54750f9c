"""Prometheus metrics, correct with several worker processes.

``servinfo serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder of the
deployment before the workers start; prometheus-client then keeps each
worker's samples in files there, and ``/metrics`` aggregates all of them, so
a scrape sees the whole server rather than the one worker that answered.
Each domain defines the metrics it counts (e.g. ``servinfo.access.metrics``);
this module renders them all.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "servinfo_http_requests", "HTTP requests answered, by route and status.", ["route", "status"]
)


def render() -> tuple[bytes, str]:
    """The exposition text: aggregated over workers in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST

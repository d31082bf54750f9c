"""Prometheus metrics, complete with one worker or several, from start-up on.

Each domain defines the metrics it counts (e.g. ``servinfo.access.metrics``),
all named ``servinfo_…``; this module renders them all.

prometheus-client decides once, when it is first imported, whether values live
in this process's memory or in files under ``PROMETHEUS_MULTIPROC_DIR``.
``servinfo serve`` sets that variable only for several workers, which start
as fresh interpreters and so always count in files
(:func:`servinfo.api.server.prepare_metrics`); :func:`render` then aggregates
every worker's files. With one worker the variable is unset and the process's
own registry is the whole server, whatever was imported first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Metric,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from servinfo.api.server import MULTIPROC_ENV

__all__ = ["REQUESTS", "render"]

#: The prefix of every metric servinfo defines.
PREFIX = "servinfo_"

REQUESTS = Counter(
    "servinfo_http_requests", "HTTP requests answered, by route and status.", ["route", "status"]
)


class _AllWorkers(Collector):
    """Every worker's samples, under every family servinfo declares.

    The files hold only what some worker has counted: a labelled counter no
    request has touched yet would be missing altogether, where one worker's
    registry shows it, without samples, from start-up. Each declared family is
    shown with its own help text and the samples the workers' files hold.
    """

    def collect(self) -> Iterable[Metric]:
        counted = {
            family.name: family
            for family in multiprocess.MultiProcessCollector(None).collect()  # type: ignore[no-untyped-call]
        }
        for declared in REGISTRY.collect():
            if not declared.name.startswith(PREFIX):
                continue  # this process's own figures (CPU, memory), not the server's
            family = Metric(declared.name, declared.documentation, declared.type, declared.unit)
            found = counted.pop(declared.name, None)
            family.samples = found.samples if found is not None else []
            yield family
        yield from counted.values()


def render() -> tuple[bytes, str]:
    """The exposition text: aggregated over the workers when there are several."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        registry.register(_AllWorkers())
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

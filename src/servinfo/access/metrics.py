"""What the access layer counts: decisions by outcome, and how long deciding takes."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECISIONS = Counter("servinfo_decisions", "Access decisions made, by outcome.", ["outcome"])
DECISION_SECONDS = Histogram(
    "servinfo_decision_seconds",
    "Time to decide on one read, all of its categories together.",
    buckets=(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05),
)

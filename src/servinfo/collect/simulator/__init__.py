"""The simulator: realistic Service Information from the three services, for demos and tests.

``servinfo simulate`` writes what :func:`simulate` yields: organizations,
subjects and records in the ingest format (``docs/ingest-format.md``), every
record valid under the policy, the same for the same seed.
"""

from servinfo.collect.simulator.fields import RecordShaper
from servinfo.collect.simulator.simulation import (
    SimulationError,
    Tally,
    default_until,
    dumps,
    simulate,
    write_ndjson,
)

__all__ = [
    "RecordShaper",
    "SimulationError",
    "Tally",
    "default_until",
    "dumps",
    "simulate",
    "write_ndjson",
]

"""Retention: when each record's retention ends, account closure, and the sweep that deletes.

* :mod:`servinfo.retention.schedule` — the end of a record's retention, from the
  policy's ``period``, ``starts`` and ``by_regime`` (what the notice shows);
* :mod:`servinfo.retention.closure` — account closure and reopening;
* :mod:`servinfo.retention.sweep` — :func:`~servinfo.retention.sweep.run_sweep`,
  the job that deletes what has expired in one region.

Nothing is imported here, so that ingest importing the schedule stays light.
"""

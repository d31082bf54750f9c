"""Redaction of free text: personal data and secrets become typed placeholders.

The policy marks some fields ``free_text: true`` (crash reports, bug reports,
log excerpts, support messages, feedback); ingest passes each through
:meth:`Redactor.redact` before anything is stored, and keeps the per-type
counts on the record. What is found, and how it is replaced, is described in
``docs/redaction.md``; what each span covers in the labelled sets' READMEs
(``tests/data/redaction_v2/README.md``); how it is found in :mod:`.engine`.

    >>> r = Redactor().redact("mail bob@example.com from 192.0.2.7")
    >>> r.text
    'mail <EMAIL> from <IPV4>'
    >>> r.counts["EMAIL"], r.counts["IPV4"], r.counts["CARD"]
    (1, 1, 0)
"""

from __future__ import annotations

from servinfo.collect.redaction.engine import PLACEHOLDERS, TYPES, Redacted, Redactor, Span

__all__ = ["PLACEHOLDERS", "TYPES", "Redacted", "Redactor", "Span"]

"""Free text for crash reports, bug reports, tickets and feedback.

The text comes from :func:`servinfo.collect.textgen.generate_text`, which
plants e-mail addresses, card numbers and tokens the way real crash dumps and
tickets carry them (and records where, so that redaction can be measured). That
module is imported lazily; without it, a plain generator below writes text with
no personal data at all.
"""

from __future__ import annotations

import importlib
import random
from functools import cache
from typing import Any, Protocol

_TEXTGEN = "servinfo.collect.textgen"
#: The chance that a slot of a text meant for personal data gets some (textgen's ``pii_rate``):
#: most texts are clean, some carry an address, a card number or a token.
PII_RATE = 0.1
#: The text kind of textgen that fits a field, by ``kind:field`` or kind.
_TEXT_KINDS: dict[str, str] = {
    "telemetry.crash_report:stack_trace": "stack_trace",
    "telemetry.crash_report:log_excerpt": "log_lines",
    "telemetry.crash_report": "crash_report",
    "telemetry.bug_report": "support_message",
    "communications.support_ticket": "support_message",
    "communications.question": "support_message",
    "communications.feedback": "feedback",
    "payments.billing_issue": "support_message",
}

_FALLBACK: dict[str, tuple[str, ...]] = {
    "telemetry.crash_report": (
        'Traceback (most recent call last):\n  File "agent/main.py", line {n}, in run\n'
        '    self.loop.tick()\n  File "agent/loop.py", line {m}, in tick\n'
        "    raise RuntimeError('watchdog timeout')\nRuntimeError: watchdog timeout",
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x{h} pc=0x{h}]\n"
        "goroutine {n} [running]:\nmain.(*Exporter).flush(...)\n\t/src/exporter/flush.go:{m}",
    ),
    "telemetry.crash_report:log_excerpt": (
        "INFO  starting worker pool size={n}\nWARN  queue depth {m} above threshold\n"
        "ERROR worker {n} exited with signal 11",
        "INFO  flushing {m} metering samples\nERROR upstream closed connection\nFATAL giving up",
    ),
    "telemetry.bug_report": (
        "The console shows a blank page after switching projects. Steps: open the dashboard, "
        "switch project, wait {n} seconds. Expected the resource list, got an empty view.",
        "Resizing a volume to {n} GB reports success but the old size is still shown "
        "after {m} minutes.",
        "The usage export for last month is missing line items for region {r}.",
    ),
    "communications.support_ticket": (
        "Our instance has been unreachable for {n} minutes since the maintenance window. "
        "Can you check the host?",
        "Since this morning the API returns 503 for about {m}% of requests. Please investigate.",
        "We need the IOPS limit of our database raised to {n}000 before the launch on Monday.",
        "Thanks, the issue is resolved on our side. You can close the ticket.",
        "We rolled out the fix; please confirm that the error rate is back to normal.",
    ),
    "communications.question": (
        "Is it possible to move a bucket to another region without downtime?",
        "How do we enable single sign-on for the whole organization?",
        "Which plan includes private networking between regions?",
    ),
    "communications.feedback": (
        "The new console is much faster, thank you.",
        "Billing export is hard to reconcile with our cost centres.",
        "Documentation for the Terraform provider is missing examples for load balancers.",
        "Support answered within {n} minutes, great service.",
    ),
    "payments.billing_issue": (
        "The card payment for invoice {i} was declined; we will retry after the customer updates "
        "the payment method.",
        "Customer disputes the egress charges on invoice {i}.",
    ),
}


def free_text(rng: random.Random, kind: str, part: str = "") -> str:
    """Free text for the ``part`` (a field) of a record of ``kind``, possibly with PII."""
    generate = _textgen()
    text_kind = _TEXT_KINDS.get(f"{kind}:{part}") or _TEXT_KINDS.get(kind)
    if generate is None or text_kind is None:
        return plain_text(rng, kind, part)
    return str(generate(rng, text_kind, pii_rate=PII_RATE).text)


def plain_text(rng: random.Random, kind: str, part: str = "") -> str:
    """Text without any personal data: the fallback when textgen is not installed."""
    templates = _FALLBACK.get(f"{kind}:{part}") or _FALLBACK.get(kind, ("No details given.",))
    return rng.choice(templates).format(
        n=rng.randrange(2, 90),
        m=rng.randrange(10, 400),
        h=f"{rng.getrandbits(32):08x}",
        r=rng.choice(("eu", "us", "apac")),
        i=f"INV-{rng.randrange(10**6):06d}",
    )


class _Generate(Protocol):
    def __call__(self, rng: random.Random, kind: str, *, pii_rate: float = ...) -> Any: ...


@cache
def _textgen() -> _Generate | None:
    """``textgen.generate_text``, or None when that module does not exist."""
    try:
        module = importlib.import_module(_TEXTGEN)
    except ModuleNotFoundError as missing:
        if missing.name != _TEXTGEN:
            raise  # textgen exists but is broken: say so, never hide it
        return None
    generate: _Generate = module.generate_text
    return generate


def textgen_available() -> bool:
    return _textgen() is not None

"""Benchmark: servinfo's redaction engine against presidio-analyzer's recognizers.

Both engines read the same free text, made by ``servinfo.collect.textgen`` as
the simulator makes it (its ``PII_RATE``: most texts clean, some with an
address, a card number or a token), and are timed on one core with
``time.process_time`` after a warm-up on other text. servinfo is also timed on dense
text (``pii_rate`` 0.5, as in the labelled set: about 3 values per kB, nearly
all distinct), its worst case, for information. presidio runs as it must here:
``AnalyzerEngine`` with ``NoOpNlpEngine`` (no model can be downloaded) and its
predefined pattern recognizers for EMAIL_ADDRESS, PHONE_NUMBER (given the same
regions as servinfo), IP_ADDRESS, CREDIT_CARD and IBAN_CODE. presidio has no
recognizer for secrets, so it gets one here that runs servinfo's own secret
patterns with Python ``re`` (without servinfo's placeholder filtering), the
way a presidio user would add them. presidio is slow, so it reads a smaller
sample; MB/s are comparable, totals are not.

Accuracy is measured on the held-out split of ``tests/data/redaction`` with
the rule of its README (same type, Jaccard overlap >= 0.5).

Targets (issue #5): servinfo >= 5 MB/s on one core and >= 30x presidio, with
recall no lower than presidio's on every type.

Run alone: ``.venv/bin/python bench/collect_redaction.py [--mb 5] [--seed 7]``.
Needs the ``bench`` extra (presidio-analyzer).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from servinfo.collect.redaction import Redactor, Span
from servinfo.collect.redaction import _patterns as patterns
from servinfo.collect.redaction._evaluation import load_labelled, score
from servinfo.collect.redaction._validators import DEFAULT_PHONE_REGIONS
from servinfo.collect.textgen import KINDS, generate_text

__all__ = ["presidio_finder", "run_redaction_bench", "sample_texts"]

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "redaction"
TARGET_MB_S = 5.0
TARGET_RATIO = 30.0
#: presidio reads this share of the servinfo sample (at least 50 kB).
PRESIDIO_SHARE = 0.02

_PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "SECRET": "SECRET",
}


def _simulator_pii_rate() -> float:
    try:
        from servinfo.collect.simulator._text import PII_RATE
    except ImportError:  # the simulator is not there: the rate it was written with
        return 0.1
    return float(PII_RATE)


def sample_texts(mb: float, seed: int, pii_rate: float | None = None) -> list[str]:
    """Free texts of about ``mb`` megabytes (UTF-8), by default as the simulator makes them."""
    rate = _simulator_pii_rate() if pii_rate is None else pii_rate
    rng = random.Random(seed)
    texts: list[str] = []
    size = 0
    while size < mb * 1_000_000:
        text = generate_text(rng, rng.choice(KINDS), pii_rate=rate).text
        texts.append(text)
        size += len(text.encode())
    return texts


def _mb_per_s(
    texts: Sequence[str], run: Callable[[str], object], warm_up: Sequence[str] = ()
) -> float:
    """MB/s of ``run`` over ``texts`` on this process's CPU time, after ``warm_up``."""
    for text in warm_up:
        run(text)
    size = sum(len(t.encode()) for t in texts)
    start = time.process_time()
    for text in texts:
        run(text)
    return size / 1_000_000 / max(time.process_time() - start, 1e-9)


def presidio_finder() -> Callable[[str], list[Span]]:
    """presidio-analyzer as described in the module docstring, answering in servinfo spans."""
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # before tldextract is imported
    from presidio_analyzer import (
        AnalyzerEngine,
        LocalRecognizer,
        RecognizerRegistry,
        RecognizerResult,
    )
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
    )

    secret_re = dict(patterns.classifiers())["SECRET"]

    class SecretRecognizer(LocalRecognizer):
        """servinfo's secret patterns with Python ``re``; the value group if there is one."""

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any) -> list[Any]:
            results = []
            for match in secret_re.finditer(text):
                group = next((g for g, v in match.groupdict().items() if v is not None), None)
                start, end = match.span(group) if group else match.span()
                results.append(RecognizerResult("SECRET", start, end, 0.9))
            return results

    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        EmailRecognizer(),
        IpRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        PhoneRecognizer(supported_regions=("US", *DEFAULT_PHONE_REGIONS)),
        SecretRecognizer(supported_entities=["SECRET"], name="SecretRecognizer"),
    ):
        registry.add_recognizer(recognizer)
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    nlp.load()
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    entities = [*_PRESIDIO_TYPES, "IP_ADDRESS"]

    def find(text: str) -> list[Span]:
        spans = []
        for result in engine.analyze(text, language="en", entities=entities):
            if result.entity_type == "IP_ADDRESS":
                kind = "IPV6" if ":" in text[result.start : result.end] else "IPV4"
            else:
                kind = _PRESIDIO_TYPES[result.entity_type]
            spans.append(Span(result.start, result.end, kind))
        return sorted(spans, key=lambda s: (s.start, s.end))

    return find


def _accuracy(find: Callable[[str], Sequence[Span]]) -> dict[str, dict[str, float]]:
    scores = score(load_labelled(LABELLED, "heldout"), find)
    return {t: {"precision": s.precision, "recall": s.recall} for t, s in scores.items()}


def run_redaction_bench(mb: float = 5.0, seed: int = 7) -> dict[str, Any]:
    """Throughput and held-out accuracy of both engines; prints a report, returns it."""
    texts = sample_texts(mb, seed)
    redactor = Redactor()
    # Steady state, as in a long-running ingest worker: RE2 builds its automaton's
    # states lazily, so the redactor first reads 0.5 MB of other text (another seed).
    servinfo_mb_s = _mb_per_s(texts, redactor.redact, sample_texts(0.5, seed + 1))
    dense = sample_texts(min(mb, 2.0), seed + 2, pii_rate=0.5)
    dense_mb_s = _mb_per_s(dense, Redactor().redact, sample_texts(0.5, seed + 3, pii_rate=0.5))
    presidio = presidio_finder()
    share: list[str] = []
    while sum(len(t) for t in share) < max(50_000, mb * 1_000_000 * PRESIDIO_SHARE):
        share.append(texts[len(share)])
    presidio_mb_s = _mb_per_s(share, presidio, sample_texts(0.01, seed + 1))
    ratio = servinfo_mb_s / presidio_mb_s
    ours, theirs = _accuracy(redactor.find), _accuracy(presidio)
    recall_ok = all(ours[t]["recall"] >= theirs[t]["recall"] for t in ours)
    report = {
        "sample_mb": round(sum(len(t.encode()) for t in texts) / 1e6, 2),
        "presidio_sample_mb": round(sum(len(t.encode()) for t in share) / 1e6, 3),
        "pii_rate": _simulator_pii_rate(),
        "servinfo_mb_s": servinfo_mb_s,
        "servinfo_dense_mb_s": dense_mb_s,
        "presidio_mb_s": presidio_mb_s,
        "ratio": ratio,
        "servinfo": ours,
        "presidio": theirs,
        "pass": {
            "mb_s": servinfo_mb_s >= TARGET_MB_S,
            "ratio": ratio >= TARGET_RATIO,
            "recall_vs_presidio": recall_ok,
        },
    }
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print(
        f"redaction, {report['sample_mb']} MB of simulator text (pii_rate {report['pii_rate']}) "
        f"(presidio: {report['presidio_sample_mb']} MB), one core"
    )
    print(
        f"  servinfo  {report['servinfo_mb_s']:8.2f} MB/s   "
        f"target >= {TARGET_MB_S} MB/s: {verdict(report['pass']['mb_s'])}"
    )
    print(f"  servinfo  {report['servinfo_dense_mb_s']:8.2f} MB/s   on dense text (pii_rate 0.5)")
    print(f"  presidio  {report['presidio_mb_s']:8.3f} MB/s")
    print(
        f"  ratio     {report['ratio']:8.1f} x      "
        f"target >= {TARGET_RATIO:.0f}x: {verdict(report['pass']['ratio'])}"
    )
    print("  held-out accuracy   servinfo P / R      presidio P / R")
    for kind, ours in report["servinfo"].items():
        theirs = report["presidio"][kind]
        print(
            f"    {kind:7}           {ours['precision']:.3f} / {ours['recall']:.3f}"
            f"        {theirs['precision']:.3f} / {theirs['recall']:.3f}"
        )
    print(f"  recall >= presidio's on every type: {verdict(report['pass']['recall_vs_presidio'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run_redaction_bench(args.mb, args.seed)


if __name__ == "__main__":
    main()

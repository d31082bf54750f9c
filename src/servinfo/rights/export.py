"""The archives an access or portability request answers with.

*Access* (GDPR Art. 15): ``data.json`` holds every record of the subject,
decrypted, by category and kind; one CSV per category (stable columns: the
record's id, kind, time and region, then the union of its field names,
sorted); ``report.html`` gives the Art. 15(1) information
(:mod:`servinfo.rights.report`); and the access history — every audit entry
about the subject, each with its proof, and ``verify.py`` to check them — is
under ``history/`` (:mod:`servinfo.rights.history`).

*Portability* (Art. 20) is narrower and machine-readable only: the fields the
subject *provided* and those *observed* about their use — never what we
*derived* (a credit score) — of the kinds processed on consent or for the
contract. Art. 20 scope is read under the subject's regime when it declares a
``contract`` basis (GDPR, UK GDPR); otherwise (FADP Art. 28, CCPA's portable
copy) under the default regime, the reading the policy states for the same
processing.

CSV cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
``@`` …) are prefixed with ``'``; booleans are ``true``/``false`` in every CSV
(as inside the JSON of a list or object cell); ``data.json`` keeps every value exact.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from json.encoder import encode_basestring
from operator import attrgetter
from typing import Any

from servinfo.access.reads import ReadRecord
from servinfo.audit.standalone import VERIFIER_NAME, verifier_source
from servinfo.policy.model import Policy
from servinfo.rights.history import AccessHistory
from servinfo.rights.report import (
    LedgerEntries,
    art15_information,
    history_section,
    render_report,
)
from servinfo.store import Subject

__all__ = ["FORMAT", "access_archive", "portability_archive", "portable_records"]

FORMAT = "servinfo-export/1"
_PORTABLE_BASES = frozenset({"consent", "contract"})
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FIXED_COLUMNS = ("id", "kind", "collected_at", "region")
_DEFLATE_LEVEL = 1
#: One record of data.json: compact, so that the C encoder does the work.
_RECORD_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def access_archive(
    *,
    policy: Policy,
    subject: Subject,
    regime: str,
    request_id: str,
    records: Sequence[ReadRecord],
    ledgers: LedgerEntries,
    now: dt.datetime,
    history: AccessHistory | None = None,
) -> bytes:
    """The access export; with ``history``, the subject's access history under ``history/``
    and ``verify.py`` (:mod:`servinfo.rights.history`)."""
    information = art15_information(policy, subject, regime, records, ledgers)
    ordered = _ordered(records)

    def files() -> Iterator[tuple[str, str]]:
        yield "data.json", "".join(_data_json(subject, request_id, "access", ordered, now))
        yield from _csv_files(ordered)
        if history is not None:
            # Before the report: the history's large files deflate while it is built.
            yield from history.files()
            yield VERIFIER_NAME, verifier_source().decode("utf-8")
        section = history_section(policy, history) if history is not None else None
        yield "report.html", render_report(information, ordered, request_id, now, section)

    return _zip(files(), now)


def portability_archive(
    *,
    policy: Policy,
    subject: Subject,
    regime: str,
    request_id: str,
    records: Sequence[ReadRecord],
    now: dt.datetime,
) -> bytes:
    portable = _ordered(portable_records(policy, regime, records))

    def files() -> Iterator[tuple[str, str]]:
        yield "data.json", "".join(_data_json(subject, request_id, "portability", portable, now))
        yield from _csv_files(portable)

    return _zip(files(), now)


def portable_records(
    policy: Policy, regime: str, records: Iterable[ReadRecord]
) -> list[ReadRecord]:
    """``records`` narrowed to what Art. 20 covers (see the module docstring)."""
    if "contract" not in policy.regimes[regime].bases:
        regime = policy.default_regime
    covered = {
        category
        for purpose in policy.purposes.values()
        if (ground := purpose.grounds.get(regime)) is not None and ground.basis in _PORTABLE_BASES
        for category in purpose.categories
    }
    kinds = policy.kinds()
    portable = []
    for record in records:
        kind = kinds.get(record.kind)
        if kind is None or record.category not in covered:
            continue
        fields = {
            name: value
            for name, value in record.fields.items()
            if name in kind.fields and kind.fields[name].provenance != "derived"
        }
        if fields:
            portable.append(
                ReadRecord(
                    record.record_id,
                    record.subject,
                    record.category,
                    record.kind,
                    record.region,
                    record.collected_at,
                    fields,
                )
            )
    return portable


def _ordered(records: Iterable[ReadRecord]) -> list[ReadRecord]:
    """Records in the order every file of the archive lists them: category, kind, time, id."""
    return sorted(records, key=attrgetter("category", "kind", "collected_at", "record_id"))


def _data_json(
    subject: Subject,
    request_id: str,
    kind: str,
    ordered: Sequence[ReadRecord],
    now: dt.datetime,
) -> Iterator[str]:
    """``data.json`` in pieces: the document indented, one record per line.

    A record is one compact line (the C encoder; an indented dump goes through
    the pure-Python one and costs as much as the rest of the export); the
    document around the records stays indented, so the file reads by eye and
    parses as one JSON value.
    """
    dump = json.dumps
    head = {
        "format": FORMAT,
        "export": kind,
        "request": request_id,
        "subject": subject.subject_id,
        "generated_at": now.isoformat(),
        "record_count": len(ordered),
    }
    yield "{\n" + "".join(f"  {dump(k)}: {dump(v, ensure_ascii=False)},\n" for k, v in head.items())
    yield '  "categories": {'
    encode, quote = _RECORD_ENCODER.encode, encode_basestring
    category_sep = "\n"
    for category, in_category in groupby(ordered, key=attrgetter("category")):
        yield f"{category_sep}    {dump(category, ensure_ascii=False)}: {{"
        kind_sep = "\n"
        for kind_id, of_kind in groupby(in_category, key=attrgetter("kind")):
            # == encode({"id": …, "collected_at": …, "region": …, "fields": …}) without
            # building the dict (an ISO time needs no escaping).
            lines = ",\n        ".join(
                f'{{"id": {quote(r.record_id)}, "collected_at": "{r.collected_at.isoformat()}", '
                f'"region": {quote(r.region)}, "fields": {encode(r.fields)}}}'
                for r in of_kind
            )
            name = dump(kind_id, ensure_ascii=False)
            yield f"{kind_sep}      {name}: [\n        {lines}\n      ]"
            kind_sep = ",\n"
        yield "\n    }"
        category_sep = ",\n"
    yield "\n  }\n}\n" if ordered else "}\n}\n"


def _csv_files(ordered: Sequence[ReadRecord]) -> Iterator[tuple[str, str]]:
    """One CSV per category: its name and text."""
    by_category: dict[str, list[ReadRecord]] = {}
    for record in ordered:
        by_category.setdefault(record.category, []).append(record)
    for category, rows in sorted(by_category.items()):
        names = sorted({name for r in rows for name in r.fields})
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*_FIXED_COLUMNS, *names])
        # (rows are already in (kind, collected_at, id) order within the category)
        writer.writerows(_row(r, names) for r in rows)
        yield f"{category}.csv", out.getvalue()


def _row(record: ReadRecord, names: Sequence[str]) -> list[object]:
    """A record's CSV row; text that a spreadsheet would run as a formula is defused."""
    get = record.fields.get
    cells: list[object] = [
        record.record_id,
        record.kind,
        record.collected_at.isoformat(),
        record.region,
    ]
    append = cells.append
    for name in names:
        value = get(name)
        if isinstance(value, str):
            append("'" + value if value.startswith(_FORMULA_STARTS) else value)
        elif (kind := type(value)) is int or kind is float:
            append(value)  # the writer writes str(value), as _cell would
        else:
            append(_cell(value))
    return cells


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA_STARTS) else text


def _zip(files: Iterable[tuple[str, str]], now: dt.datetime) -> bytes:
    """The ZIP of ``files``, compressed while the next file is being built.

    ``files`` is consumed here, in this thread; each file, once built, is
    deflated and written by one worker thread, in order (zlib and CRC-32 let
    go of the GIL, so compressing one file overlaps building the next). Level
    1: several times faster than the default level 6 on this text, for an
    archive a few percent larger that lives only until it expires.
    """
    buffer = io.BytesIO()
    stamp = now.timetuple()[:6]
    with (
        zipfile.ZipFile(buffer, "w") as archive,
        ThreadPoolExecutor(1, thread_name_prefix="servinfo-export-zip") as deflater,
    ):
        written = [
            deflater.submit(
                archive.writestr,
                zipfile.ZipInfo(name, date_time=stamp),
                text.encode("utf-8"),
                zipfile.ZIP_DEFLATED,
                _DEFLATE_LEVEL,
            )
            for name, text in files
        ]
        for done in written:
            done.result()  # raises what writing raised
    return buffer.getvalue()

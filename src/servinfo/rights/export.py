"""The archives an access or portability request answers with.

*Access* (GDPR Art. 15): ``data.json`` holds every record of the subject,
decrypted, by category and kind; one CSV per category (stable columns: the
record's id, kind, time and region, then the union of its field names,
sorted); and ``report.html`` gives the Art. 15(1) information
(:mod:`servinfo.rights.report`).

*Portability* (Art. 20) is narrower and machine-readable only: the fields the
subject *provided* and those *observed* about their use — never what we
*derived* (a credit score) — of the kinds processed on consent or for the
contract. Art. 20 scope is read under the subject's regime when it declares a
``contract`` basis (GDPR, UK GDPR); otherwise (FADP Art. 28, CCPA's portable
copy) under the default regime, the reading the policy states for the same
processing.

CSV cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
``@`` …) are prefixed with ``'``; ``data.json`` keeps every value exact.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from servinfo.access.reads import ReadRecord
from servinfo.ledgers import Disclosure
from servinfo.policy.model import Policy
from servinfo.rights.report import art15_information, render_report
from servinfo.store import Subject

__all__ = ["FORMAT", "access_archive", "portability_archive", "portable_records"]

FORMAT = "servinfo-export/1"
_PORTABLE_BASES = frozenset({"consent", "contract"})
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FIXED_COLUMNS = ("id", "kind", "collected_at", "region")


def access_archive(
    *,
    policy: Policy,
    subject: Subject,
    regime: str,
    request_id: str,
    records: Sequence[ReadRecord],
    disclosures: Sequence[Disclosure],
    now: dt.datetime,
) -> bytes:
    information = art15_information(policy, subject, regime, records, disclosures)
    files = {
        "data.json": _data_json(subject, request_id, "access", records, now),
        **_csv_files(records),
        "report.html": render_report(information, records, request_id, now),
    }
    return _zip(files, now)


def portability_archive(
    *,
    policy: Policy,
    subject: Subject,
    regime: str,
    request_id: str,
    records: Sequence[ReadRecord],
    now: dt.datetime,
) -> bytes:
    portable = portable_records(policy, regime, records)
    files = {
        "data.json": _data_json(subject, request_id, "portability", portable, now),
        **_csv_files(portable),
    }
    return _zip(files, now)


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


def _data_json(
    subject: Subject,
    request_id: str,
    kind: str,
    records: Sequence[ReadRecord],
    now: dt.datetime,
) -> str:
    by_category: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in sorted(records, key=lambda r: (r.category, r.kind, r.collected_at, r.record_id)):
        by_category.setdefault(record.category, {}).setdefault(record.kind, []).append(
            {
                "id": record.record_id,
                "collected_at": record.collected_at.isoformat(),
                "region": record.region,
                "fields": record.fields,
            }
        )
    document = {
        "format": FORMAT,
        "export": kind,
        "request": request_id,
        "subject": subject.subject_id,
        "generated_at": now.isoformat(),
        "record_count": len(records),
        "categories": by_category,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


def _csv_files(records: Sequence[ReadRecord]) -> dict[str, str]:
    by_category: dict[str, list[ReadRecord]] = {}
    for record in records:
        by_category.setdefault(record.category, []).append(record)
    files = {}
    for category, rows in sorted(by_category.items()):
        names = sorted({name for r in rows for name in r.fields})
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*_FIXED_COLUMNS, *names])
        for r in sorted(rows, key=lambda r: (r.kind, r.collected_at, r.record_id)):
            fixed = [r.record_id, r.kind, r.collected_at.isoformat(), r.region]
            writer.writerow([*fixed, *(_cell(r.fields.get(name)) for name in names)])
        files[f"{category}.csv"] = out.getvalue()
    return files


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA_STARTS) else text


def _zip(files: dict[str, str], now: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = now.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()

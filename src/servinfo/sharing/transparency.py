"""The transparency report: what left, in aggregate, over a half-year or a quarter.

``servinfo transparency report --period 2026H2 --format html|json`` counts, for
the period: legal requests by country, type (domestic, or from a third country
under Art. 48/49) and outcome; the subjects and records disclosed for them;
the processors and their countries; the disclosures under consent by
recipient. So that no subject and no gagged request can be singled out:

* every cell between 1 and ``threshold - 1`` (default 5) is published as
  ``"<5"`` — small-cell suppression, applied to each count on its own;
* requests whose gag order still applies at the end of the period are left out
  of every row and published only as a band of ``band`` (default 10):
  ``"0-9"``, ``"10-19"`` …, the way providers report national-security requests.

Charts are drawn on the server as SVG with pygal (a maintained charting library
whose output is plain SVG: the report is one self-contained HTML file, no
script, and the console can embed the same SVG).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from servinfo.ledgers import Disclosure
from servinfo.policy.model import Policy
from servinfo.sharing.contracts import processor_entries
from servinfo.sharing.errors import InvalidSharingInput
from servinfo.sharing.legal import LegalRequest

__all__ = ["Period", "Published", "build_report", "render_html"]

#: A published count: the number, or a suppressed / banded text.
Published = int | str


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026H2`` (July–December) or ``2026Q3``."""
        match = re.fullmatch(r"(\d{4})([HQ])([1-4])", text.strip().upper())
        if match is None or (match[2] == "H" and match[3] not in "12"):
            raise InvalidSharingInput(f"a period is YYYYH1, YYYYH2 or YYYYQ1-4; got {text!r}")
        year, unit, index = int(match[1]), match[2], int(match[3])
        months = 6 if unit == "H" else 3
        first = 1 + (index - 1) * months
        start = dt.datetime(year, first, 1, tzinfo=dt.UTC)
        last = first + months
        end = (
            dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
            if last > 12
            else dt.datetime(year, last, 1, tzinfo=dt.UTC)
        )
        return cls(f"{year}{unit}{index}", start, end)

    def holds(self, when: dt.datetime | None) -> bool:
        return when is not None and self.start <= when < self.end


def _suppress(count: int, threshold: int) -> Published:
    return f"<{threshold}" if 0 < count < threshold else count


def _band(count: int, band: int) -> str:
    low = (count // band) * band
    return f"{low}-{low + band - 1}"


def _request_type(policy: Policy, request: LegalRequest) -> str:
    """``domestic`` when the authority's country lies in the legal area of some region
    of ours, else ``third_country``."""
    for region in policy.regions:
        try:
            if policy.transfer_destination(region, request.country) is None:
                return "domestic"
        except KeyError:
            continue
    return "third_country"


def build_report(
    policy: Policy,
    period: Period,
    requests: Sequence[LegalRequest],
    disclosures: Sequence[Disclosure],
    *,
    threshold: int = 5,
    band: int = 10,
) -> dict[str, Any]:
    """The report's content, every count already suppressed or banded."""
    received = [r for r in requests if period.holds(r.intake_at)]
    gagged = [r for r in received if r.gagged_at(period.end)]
    open_ = [r for r in received if not r.gagged_at(period.end)]
    gagged_ids = {r.request_id for r in gagged}
    by_row = Counter((r.country, _request_type(policy, r), r.state) for r in open_)
    in_period = [d for d in disclosures if period.holds(d.at)]
    legal = [
        d for d in in_period if d.basis == "legal_requirement" and d.reference not in gagged_ids
    ]
    consent = Counter(d.recipient for d in in_period if d.basis == "consent")
    consent_subjects: dict[str, set[str]] = {}
    for d in in_period:
        if d.basis == "consent":
            consent_subjects.setdefault(d.recipient, set()).add(d.subject_id)
    processors = processor_entries(policy, period.end.date())
    return {
        "period": {
            "label": period.label,
            "start": period.start.date().isoformat(),
            "end": (period.end - dt.timedelta(days=1)).date().isoformat(),
        },
        "suppression": {"threshold": threshold, "gag_band": band},
        "legal_requests": {
            "rows": [
                {
                    "country": country,
                    "type": kind,
                    "outcome": outcome,
                    "requests": _suppress(count, threshold),
                }
                for (country, kind, outcome), count in sorted(by_row.items())
            ],
            "total": _suppress(len(open_), threshold),
            "under_gag_order": _band(len(gagged), band),
            "subjects_disclosed": _suppress(len({d.subject_id for d in legal}), threshold),
            "records_disclosed": _suppress(sum(d.record_count for d in legal), threshold),
        },
        "processors": [
            {
                "name": p.name,
                "country": p.country,
                "state": p.state,
                "sub_processor_of": p.sub_processor_of,
            }
            for p in processors
        ],
        "consent_disclosures": [
            {
                "recipient": recipient,
                "disclosures": _suppress(count, threshold),
                "subjects": _suppress(len(consent_subjects[recipient]), threshold),
            }
            for recipient, count in sorted(consent.items())
        ],
    }


def _chart(title: str, values: Sequence[tuple[str, Published]]) -> str:
    """A horizontal bar chart as inline SVG; suppressed cells are drawn as zero and labelled."""
    import pygal  # type: ignore[import-untyped]  # pygal ships no type information

    chart = pygal.HorizontalBar(
        width=640, height=80 + 32 * max(len(values), 1), show_legend=False,
        disable_xml_declaration=True, js=[],
    )  # fmt: skip
    chart.title = title
    chart.x_labels = [f"{label} ({value})" for label, value in values]
    chart.add(title, [value if isinstance(value, int) else 0 for _, value in values])
    # pygal puts its configuration in an inline <script> (for its optional tooltips): the
    # report carries no script, so it is taken out of the tree before serializing.
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return ElementTree.tostring(tree, encoding="unicode")


def render_html(report: dict[str, Any], organization: str) -> str:
    """The report as one self-contained HTML page (autoescaped; charts as inline SVG)."""
    import jinja2
    from markupsafe import Markup

    by_country: Counter[str] = Counter()
    for row in report["legal_requests"]["rows"]:
        if isinstance(row["requests"], int):
            by_country[row["country"]] += row["requests"]
    # pygal escapes every label it draws, and the labels are countries and recipient ids
    # (letters, digits, '.', '_', ':', '@', '-'): the SVG is markup, not text.
    legal = _chart("Legal requests by country", sorted(by_country.items()))
    consent = _chart(
        "Disclosures under consent by recipient",
        [(c["recipient"], c["disclosures"]) for c in report["consent_disclosures"]],
    )
    charts = {"legal": Markup(legal), "consent": Markup(consent)}  # noqa: S704
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("servinfo.sharing", "templates"), autoescape=True
    )
    template = environment.get_template("transparency.html.j2")
    return template.render(report=report, charts=charts, organization=organization)

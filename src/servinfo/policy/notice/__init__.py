"""The privacy notice, generated from the policy: Markdown, or a standalone HTML page.

The notice follows the seed (the IMS - Network Cloud Privacy Notice): its front
matter, its introduction and its sections in its order, then the section it
refers to but lacks, "European Privacy Standards and the GDPR" (GDPR, UK GDPR
and Swiss FADP: controllers, rights and deadlines, how to exercise them, legal
basis per purpose, automated decisions, retention, transfer mechanisms, the DPO,
the right to complain), then one section per other regime (CCPA/CPRA, PDPA …),
and a footer naming the policy version. It opens with the date the policy
declares as "last updated" (``organization.notice.last_updated``) and the version.

What the build lacks, the notice does not claim: a statement about a tool or a
measure declares the capability it needs, and :func:`render_notice` leaves out
every statement whose capability is not in the set it is given (by default
:data:`~.capabilities.BUILD_CAPABILITIES`, the one registry). The rights, the
supervisory authorities, the DPO and the transfers never need one. Each regime
states its deadline once; a right whose deadline differs says so beside it.
Countries are named (``India``), never coded (:mod:`servinfo.policy.countries`).

One structure, two formats. :func:`render_notice` builds a format-neutral
:class:`~servinfo.policy.notice._document.Document` once from the policy, and
the templates ``policy/templates/notice.md.j2`` and ``notice.html.j2`` render it,
so the two formats cannot drift.

Ids and paths. Every statement is published under a stable id naming the policy
element it comes from, and carries that element's path:

* **id** — ``<prefix>-<element id>[-<sub-element>…]``, where ``.`` in a dotted id
  becomes ``--`` and any character outside ``[a-z0-9_]`` becomes ``_`` (policy ids
  never contain ``-``, so the parts stay unambiguous): ``category-account``,
  ``purpose-provide--credit_check``, ``regime-gdpr-right-access``,
  ``transfer-eu-us``, ``mechanism-eu_dpf``, ``measure-encryption``,
  ``disclosure-processor``, ``processor-relay_mail``, ``region-eu``,
  ``legal_entity-ims_eu``, ``kind-account--profile``, ``notice-scope_statement``.
  Headings of the notice's own outline are ``section-…``; a statement about a whole
  collection is named after it (``purposes``, ``transfers``).
* **path** — the RFC 6901 JSON pointer of the element in ``policy.model_dump()``:
  ``/categories/account``, ``/purposes/provide.credit_check`` (a pointer, not a
  dotted path, because purpose ids contain dots), ``/transfers/eu/us``; the footer,
  which states the version of the whole policy, points at the root (``""``).

In Markdown each statement is preceded by an inline anchor ``<a id="…"></a>``
(headings get theirs on the line above, so that their text is the seed's); in
HTML the element holding the statement (``p``, ``li``, ``tr``, ``section``) has
``id`` and ``data-policy-path`` attributes.

Region variants. ``region=R`` renders the variant for the regime governing the
region's country, else the regime covering a subdivision of it (``us`` → US-CA →
CCPA/CPRA), else the default regime (:func:`regime_of_region`). That regime's
section comes first after "Regional Privacy Protections" (a European regime's
subsection comes first within the European section) and opens with a statement
telling the reader it applies to them. The other regimes stay in full: a
variant reorders and marks, it never withholds what the notice says elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Set
from functools import cache
from typing import Any, Literal

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined

from servinfo.policy.model import Policy
from servinfo.policy.notice._build import build_document
from servinfo.policy.notice._common import (
    EUROPEAN_LEGAL_AREAS,
    element_id,
    long_date,
    pointer,
    regime_of_region,
    slug,
)
from servinfo.policy.notice._document import Document
from servinfo.policy.notice.capabilities import BUILD_CAPABILITIES, Capability

NoticeFormat = Literal["md", "html"]

#: Characters that mean something to CommonMark or MDX inside running text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|{}])")


def render_notice(
    policy: Policy,
    fmt: NoticeFormat,
    region: str | None = None,
    capabilities: Set[str] = BUILD_CAPABILITIES,
) -> str:
    """The notice as Markdown (``md``) or a standalone HTML page (``html``).

    ``capabilities`` are those the notice may speak of (:mod:`.capabilities`; by
    default the build's). Raises :class:`~servinfo.policy.errors.UnknownPolicyElement`
    for a region the policy does not declare.
    """
    if fmt not in ("md", "html"):
        raise ValueError(f"unknown notice format '{fmt}', expected 'md' or 'html'")
    document = build_document(policy, region, capabilities)
    if fmt == "html":
        return (
            _html_environment()
            .get_template("notice.html.j2")
            .render(document=document, version=policy.version)
        )
    return render_markdown(document)


def render_markdown(document: Document) -> str:
    front_matter = _front_matter(document.front_matter) if document.front_matter else ""
    text = (
        _markdown_environment()
        .get_template("notice.md.j2")
        .render(document=document, front_matter=front_matter)
    )
    # The template starts every block with a blank line; collapse the runs that makes.
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def _front_matter(data: dict[str, Any]) -> str:
    # Flow style for lists of scalars (``tags: [Cloud, Policy]``), keys in the policy's order.
    dumped: str = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )
    return dumped


def _escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))


def _escape_href(href: str) -> str:
    return href.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")


@cache
def _markdown_environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("servinfo.policy", "templates"),
        autoescape=False,  # noqa: S701 - Markdown: policy text is escaped by the ``md`` filter
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["md"] = _escape_markdown
    environment.filters["md_href"] = _escape_href
    return environment


@cache
def _html_environment() -> Environment:
    return Environment(
        loader=PackageLoader("servinfo.policy", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


__all__ = [
    "BUILD_CAPABILITIES",
    "EUROPEAN_LEGAL_AREAS",
    "Capability",
    "Document",
    "NoticeFormat",
    "build_document",
    "element_id",
    "long_date",
    "pointer",
    "regime_of_region",
    "render_markdown",
    "render_notice",
    "slug",
]

"""The seed notice's preamble and sections, in its order, each statement taken from the policy."""

from __future__ import annotations

from servinfo.policy.countries import country_name
from servinfo.policy.notice._common import (
    Context,
    element_id,
    item,
    join_names,
    notice_paragraph,
    paragraph,
    pointer,
    section,
)
from servinfo.policy.notice._document import (
    Block,
    BulletList,
    Cell,
    Link,
    Row,
    Section,
    Statement,
    Table,
)
from servinfo.policy.notice._redaction import redaction_blocks


def preamble(ctx: Context) -> tuple[Block, ...]:
    policy = ctx.policy
    introduction = policy.organization.notice.introduction
    return (
        *(notice_paragraph(policy, "introduction", i) for i in range(len(introduction))),
        notice_paragraph(policy, "customers_statement"),
        notice_paragraph(policy, "european_pointer"),
    )


def seed_sections(ctx: Context) -> tuple[Section, ...]:
    return (
        _collect(ctx),
        _purposes(ctx),
        _storage(ctx),
        _security(ctx),
        _sharing(ctx),
        section(
            "section-regional",
            "Regional Privacy Protections",
            2,
            notice_paragraph(ctx.policy, "regional_statement"),
        ),
    )


def _collect(ctx: Context) -> Section:
    policy = ctx.policy
    scope = policy.organization.notice.scope_statement
    categories = BulletList(
        tuple(
            item(
                element_id("category", cid),
                pointer("categories", cid),
                category.description,
                term=category.notice_title,
            )
            for cid, category in policy.categories.items()
        )
    )
    return section(
        "section-collect",
        "Information We Collect and Process",
        2,
        paragraph(
            "notice-scope_statement",
            pointer("organization", "notice", "scope_statement"),
            f"{scope} We explain below what we mean by \u201c",
            Link("Service Information", "#notice-scope_definition"),
            "\u201d.",
        ),
        *(
            paragraph(
                element_id("out_of_scope", oid), pointer("out_of_scope", oid), oos.description
            )
            for oid, oos in policy.out_of_scope.items()
        ),
        notice_paragraph(policy, "scope_definition"),
        section(
            "section-categories",
            "Service Information includes:",
            3,
            categories,
            path=pointer("categories"),
        ),
    )


def _purposes(ctx: Context) -> Section:
    return section(
        "section-purposes",
        "Why We Process Service Information",
        2,
        paragraph(
            "purposes",
            pointer("purposes"),
            "Our cloud processes Service Information for the following purposes:",
        ),
        BulletList(_purpose_items(ctx, None)),
    )


def _purpose_items(ctx: Context, parent: str | None) -> tuple[Statement, ...]:
    """Root purposes, each with its sub-purposes (``provide.credit_check``) nested under it."""
    policy = ctx.policy
    found = policy.purpose_roots() if parent is None else policy.sub_purposes(parent)
    return tuple(
        item(
            element_id("purpose", pid),
            pointer("purposes", pid),
            purpose.description,
            term=purpose.notice_title,
            children=_purpose_items(ctx, pid),
        )
        for pid, purpose in found.items()
    )


def _storage(ctx: Context) -> Section:
    policy = ctx.policy
    entities = policy.legal_entities
    regions = tuple(
        Row(
            element_id("region", rid),
            pointer("regions", rid),
            (
                Cell((region.name,)),
                Cell((region.location,)),
                Cell((entities[region.entity].name,), pointer("regions", rid, "entity")),
            ),
        )
        for rid, region in policy.regions.items()
    )
    companies = []
    for eid, entity in entities.items():
        operated = [r.name for r in policy.regions.values() if r.entity == eid]
        text = entity.address + "."
        if operated:
            plural = "s" if len(operated) > 1 else ""
            text += f" Operates the {join_names(operated)} region{plural}."
        if entity.dpf_certified:
            text += " Certified under the Data Privacy Framework."
        companies.append(
            item(
                element_id("legal_entity", eid),
                pointer("legal_entities", eid),
                text,
                term=entity.name,
            )
        )
    storage = policy.organization.notice.storage_statement
    return section(
        "section-storage",
        "Where We Store Service Information",
        2,
        *(notice_paragraph(policy, "storage_statement", i) for i in range(len(storage))),
        paragraph(
            "regions", pointer("regions"), "We store Service Information in the following regions:"
        ),
        Table("regions-table", pointer("regions"), ("Region", "Location", "Operated by"), regions),
        paragraph(
            "legal_entities",
            pointer("legal_entities"),
            f"The companies of {policy.organization.name} that operate them:",
        ),
        BulletList(tuple(companies)),
    )


def _security(ctx: Context) -> Section:
    measures = ctx.policy.security_measures
    return section(
        "section-security",
        "How We Secure Service Information",
        2,
        notice_paragraph(ctx.policy, "security_statement"),
        BulletList(
            tuple(
                item(element_id("measure", mid), pointer("security_measures", mid), m.description)
                for mid, m in measures.items()
                if m.notice
            )
        ),
        *redaction_blocks(ctx.policy),
    )


def _sharing(ctx: Context) -> Section:
    policy = ctx.policy
    grounds = BulletList(
        tuple(
            item(
                element_id("disclosure", gid),
                pointer("disclosure_grounds", gid),
                ground.description,
                term=ground.title,
            )
            for gid, ground in policy.disclosure_grounds.items()
        )
    )
    blocks: list[Block] = [notice_paragraph(policy, "sharing_statement"), grounds]
    if not policy.processors:
        blocks.append(
            paragraph(
                "processors",
                pointer("processors"),
                "We currently use no service providers to process Service Information.",
            )
        )
    else:
        rows = tuple(
            Row(
                element_id("processor", pid),
                pointer("processors", pid),
                (
                    Cell((processor.name,)),
                    Cell((processor.service,)),
                    Cell((country_name(processor.country),), pointer("processors", pid, "country")),
                    Cell(
                        (join_names([policy.regions[r].name for r in processor.regions]),),
                        pointer("processors", pid, "regions"),
                    ),
                ),
            )
            for pid, processor in policy.processors.items()
        )
        columns = ("Service provider", "Service", "Country", "For the regions")
        blocks += [
            paragraph(
                "processors",
                pointer("processors"),
                "The service providers that process Service Information for us:",
            ),
            Table("processors-table", pointer("processors"), columns, rows),
        ]
    return section("section-sharing", "How We Share Service Information", 2, *blocks)

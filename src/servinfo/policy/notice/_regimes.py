"""The section the seed refers to but lacks, and one section per other regime.

"European Privacy Standards and the GDPR" holds a subsection per European regime
(GDPR, UK GDPR, Swiss FADP: controller, rights with deadlines, the right to
complain), then what they share: how to exercise the rights and reach the DPO,
the legal basis of each purpose, automated decisions, retention and the
transfer mechanisms. Every other regime (CCPA/CPRA, PDPA …) gets a section of its
own with its rights, deadlines, acknowledgement, grounds and authority.
"""

from __future__ import annotations

from collections import Counter

from servinfo.policy.countries import country_name
from servinfo.policy.model import Purpose, Regime, Retention, Right
from servinfo.policy.notice._common import (
    Context,
    element_id,
    item,
    join_names,
    link,
    long_date,
    paragraph,
    pointer,
    regime_of_region,
    section,
    slug,
)
from servinfo.policy.notice._document import (
    Block,
    BulletList,
    Cell,
    Link,
    Paragraph,
    Row,
    Section,
    Statement,
    Table,
)
from servinfo.policy.notice.capabilities import Capability


def regime_sections(ctx: Context) -> tuple[Section, ...]:
    """The European section and the other regimes; a variant's own regime comes first."""
    others = [regime_section(ctx, r, level=2) for r in ctx.other_regimes]
    return (
        *(s for s in others if s.applies),
        european_section(ctx),
        *(s for s in others if not s.applies),
    )


def european_section(ctx: Context) -> Section:
    policy = ctx.policy
    regimes = ctx.european_regimes
    names = join_names([policy.regimes[r].name for r in regimes], "or")
    ordered = sorted(regimes, key=lambda r: r != ctx.chosen)
    return section(
        "section-european",
        policy.organization.notice.european_section_title,
        2,
        paragraph(
            "regimes",
            pointer("regimes"),
            f"This section applies where the {names} applies to the processing of your "
            "Service Information.",
        ),
        *(regime_section(ctx, r, level=3) for r in ordered),
        _exercise(ctx),
        section(
            "section-european-bases",
            "Legal Basis for Each Purpose",
            3,
            _bases_table(ctx, "european", regimes, objection=True),
        ),
        _automated(ctx),
        _retention(ctx),
        _transfers(ctx),
        path=pointer("organization", "notice", "european_section_title"),
        applies=ctx.chosen in regimes,
    )


def regime_section(ctx: Context, regime_id: str, level: int) -> Section:
    policy = ctx.policy
    regime = policy.regimes[regime_id]
    european = regime_id in ctx.european_regimes
    applies = regime_id == ctx.chosen
    at = ("regimes", regime_id)
    blocks: list[Block] = []
    if applies and ctx.region is not None:
        name = policy.regions[ctx.region].name
        marker = Statement(
            element_id("variant", ctx.region),
            pointer("regions", ctx.region),
            (f"You are reading the notice for our {name} region: this section applies to you.",),
            applies=True,
        )
        blocks.append(Paragraph(marker))
    blocks += [
        paragraph(
            element_id("regime", regime_id, "summary"), pointer(*at, "summary"), regime.summary
        ),
        paragraph(
            element_id("regime", regime_id, "law"), pointer(*at, "law"), regime.law, term="Law"
        ),
    ]
    operator = next((r for r in policy.regions if regime_of_region(policy, r) == regime_id), None)
    if operator is not None:
        entity = policy.legal_entities[policy.regions[operator].entity]
        blocks.append(
            paragraph(
                element_id("regime", regime_id, "controller"),
                pointer("regions", operator, "entity"),
                f"{entity.name}, {entity.address}.",
                term="Controller" if european else "Responsible company",
            )
        )
    blocks += _rights(regime_id, regime)
    if not european:
        blocks.append(_bases_table(ctx, regime_id, (regime_id,), objection=False))
    complaint = (
        "You have the right to lodge a complaint with "
        if regime.complaint_notice
        else "The authority that oversees our compliance: "
    )
    blocks.append(
        paragraph(
            element_id("regime", regime_id, "authority"),
            pointer(*at, "authority"),
            f"{complaint}{regime.authority.name} (",
            link(regime.authority.url),
            ").",
        )
    )
    return section(
        element_id("regime", regime_id),
        regime.notice_title,
        level,
        *blocks,
        path=pointer(*at),
        applies=applies,
    )


def _exercise(ctx: Context) -> Section:
    org = ctx.policy.organization
    contact, dpo = org.contact, org.dpo
    how: list[str | Link] = [
        f"You can contact the {contact.name} by e-mail at ",
        link(f"mailto:{contact.email}", contact.email),
    ]
    if contact.address:
        how.append(f", by post at {contact.address}")
    if contact.url:
        how += [", or through ", link(contact.url)]
    how.append(". We may ask you to confirm your identity before we answer.")
    return section(
        "section-european-exercise",
        "How to Exercise Your Rights",
        3,
        paragraph(
            "organization-portal",
            pointer("organization", "contact"),
            "You can see, download, correct and erase your Service Information, object to its "
            "processing and withdraw your consent yourself in the self-service portal of the "
            "Cloud Services.",
            requires=frozenset({Capability.SELF_SERVICE_PORTAL}),
        ),
        paragraph(
            "organization-api",
            pointer("organization", "contact"),
            "You can make a request under any of these rights through the API of the Cloud "
            "Services, signed in with your account: we confirm your identity by your sign-in.",
            requires=frozenset({Capability.RIGHTS_API}),
        ),
        paragraph("organization-contact", pointer("organization", "contact"), *how),
        section(
            "section-european-dpo",
            "Our Data Protection Officer",
            4,
            paragraph(
                "organization-dpo",
                pointer("organization", "dpo"),
                f"{dpo.name}: ",
                link(f"mailto:{dpo.email}", dpo.email),
                f", {dpo.address}." if dpo.address else ".",
            ),
        ),
    )


def _bases_table(ctx: Context, group: str, regimes: tuple[str, ...], *, objection: bool) -> Table:
    """A row per purpose, a column per regime: the ground, as the policy details it."""
    policy = ctx.policy
    columns = ["Purpose", *(f"Legal basis ({policy.regimes[r].name})" for r in regimes)]
    if objection:
        columns.append("You may object")
    rows = []
    for pid, purpose in policy.purposes.items():
        cells = [Cell((purpose.notice_title,)), *(_ground_cell(pid, purpose, r) for r in regimes)]
        if objection:
            objectable = "Yes" if purpose.objectable else "No"
            cells.append(Cell((objectable,), pointer("purposes", pid, "objectable")))
        rows.append(
            Row(
                element_id("purpose", pid, "grounds", group),
                pointer("purposes", pid, "grounds"),
                tuple(cells),
            )
        )
    return Table(f"grounds-{slug(group)}", pointer("purposes"), tuple(columns), tuple(rows))


def _ground_cell(purpose_id: str, purpose: Purpose, regime_id: str) -> Cell:
    ground = purpose.grounds.get(regime_id)
    if ground is None:
        return Cell(("—",))
    # The detail names the basis as it applies to this purpose; regime.bases is the vocabulary.
    return Cell((ground.detail,), pointer("purposes", purpose_id, "grounds", regime_id))


def _automated(ctx: Context) -> Section:
    policy = ctx.policy
    decisions = []
    for pid, purpose in policy.purposes.items():
        if not purpose.automated_decisions:
            continue
        text = purpose.description
        if purpose.objectable:
            text += " You may object to this processing."
        text += (
            " You may ask for a person to review the decision, give your point of view and "
            "contest it:"
        )
        rights = tuple(
            item(
                element_id("purpose", pid, "automated", r),
                pointer("regimes", r, "rights", "automated_decisions"),
                f"{right.name} ({right.article}).",
                term=policy.regimes[r].name,
            )
            for r in ctx.european_regimes
            if (right := policy.regimes[r].rights.get("automated_decisions")) is not None
        )
        decisions.append(
            item(
                element_id("purpose", pid, "automated"),
                pointer("purposes", pid, "automated_decisions"),
                text,
                term=purpose.notice_title,
                children=rights,
            )
        )
    body: Block = (
        BulletList(tuple(decisions))
        if decisions
        else paragraph(
            "purposes-automated",
            pointer("purposes"),
            "We make no decisions based solely on automated processing.",
        )
    )
    return section("section-european-automated", "Automated Decisions", 3, body)


def _retention(ctx: Context) -> Section:
    policy = ctx.policy
    rows = tuple(
        Row(
            element_id("kind", f"{cid}.{kid}"),
            pointer("categories", cid, "kinds", kid),
            (
                Cell((f"{category.notice_title}: {kind.name}",)),
                Cell((kind.description,)),
                Cell(
                    (_retention_text(ctx, kind.retention),),
                    pointer("categories", cid, "kinds", kid, "retention"),
                ),
            ),
        )
        for cid, category in policy.categories.items()
        for kid, kind in category.kinds.items()
    )
    columns = ("Service Information", "What it is", "How long we keep it")
    blocks: list[Block] = [Table("kinds-table", pointer("categories"), columns, rows)]
    if policy.backups is not None:
        blocks.append(_backups(policy.backups.keep_for))
    return section(
        "section-european-retention",
        "How Long We Keep Service Information",
        3,
        *blocks,
    )


def _backups(keep_for: str) -> Block:
    return paragraph(
        "retention-backups",
        pointer("backups", "keep_for"),
        f"Backups of Service Information are kept for {keep_for} after they are taken. Each "
        "backup is encrypted under a key of its own, which we destroy when that period ends, "
        "so an expired backup can no longer be read. When we restore a backup, we first "
        "re-apply every erasure and every deletion made since it was taken.",
        requires=frozenset({Capability.EXPIRING_BACKUPS}),
    )


def _retention_text(ctx: Context, retention: Retention) -> str:
    policy = ctx.policy
    closed = retention.starts == "account_closed"
    text = (
        f"{retention.period} {'after the account is closed' if closed else 'after it is collected'}"
    )
    overrides = [
        f"{policy.regimes[r].name if r in policy.regimes else r}: {period}"
        for r, period in retention.by_regime.items()
        if period != retention.period
    ]
    if overrides:
        text += f" ({'; '.join(overrides)})"
    text += "."
    retention_class = policy.retention_classes.get(retention.retention_class)
    if retention_class is not None and not retention_class.erased_on_request:
        text += " Kept for this period even if you ask for erasure, as the law requires."
    if retention.reason:
        text += f" {retention.reason}"
    return text


def _transfers(ctx: Context) -> Section:
    """Each transfer out of a European region, its safeguards, and each safeguard once."""
    policy = ctx.policy
    rows: list[Row] = []
    used: dict[str, None] = {}  # the mechanisms, in order of first use
    for source in ctx.european_regions:
        for destination, mechanisms in policy.transfers.get(source, {}).items():
            used.update(dict.fromkeys(mechanisms))
            names = join_names([policy.mechanisms[m].name for m in mechanisms], "or")
            rows.append(
                Row(
                    element_id("transfer", source, destination),
                    pointer("transfers", source, destination),
                    (
                        Cell((policy.regions[source].name,)),
                        Cell((_destination(ctx, destination),)),
                        Cell((names,)),
                    ),
                )
            )
    safeguards = []
    for mid in used:
        mechanism = policy.mechanisms[mid]
        text = f"{mechanism.reference}."
        if mechanism.expires is not None:
            text += f" Valid until {long_date(mechanism.expires)}."
        safeguards.append(
            item(
                element_id("mechanism", mid), pointer("mechanisms", mid), text, term=mechanism.name
            )
        )
    return section(
        "section-european-transfers",
        "International Transfers",
        3,
        paragraph(
            "transfers",
            pointer("transfers"),
            "When Service Information leaves the European Economic Area, the United Kingdom or "
            "Switzerland, it is protected as follows:",
        ),
        Table("transfers-table", pointer("transfers"), ("From", "To", "Safeguard"), tuple(rows)),
        paragraph("mechanisms", pointer("mechanisms"), "The safeguards we rely on:"),
        BulletList(tuple(safeguards)),
    )


def _destination(ctx: Context, destination: str) -> str:
    """A region by its name; a country (the matrix keys processors' countries) by its name."""
    policy = ctx.policy
    if destination in policy.regions:
        region = policy.regions[destination]
        return f"{region.name} ({region.location})"
    name = country_name(destination)
    processors = [p.name for p in policy.processors.values() if p.country == destination]
    if processors:
        return f"{name} (service providers: {join_names(processors)})"
    return name


def _rights(regime_id: str, regime: Regime) -> list[Block]:
    """The regime's rights, then its deadline, stated once.

    The deadline most of the rights share is the regime's; a right whose deadline
    differs says its own beside its name.
    """
    at = ("regimes", regime_id)
    if not regime.rights:
        return []
    common = Counter(_terms(r) for r in regime.rights.values()).most_common(1)[0][0]
    items = []
    for rid, right in regime.rights.items():
        text = f"{right.name} ({right.article})"
        own = _terms(right)
        if own != common:
            text += f": we answer within {_deadline_text(own)}"
            if common[1] and not own[1]:
                text = text.removesuffix(".") + ", without extension."
        items.append(
            item(element_id("regime", regime_id, "right", rid), pointer(*at, "rights", rid), text)
        )
    uniform = len({_terms(r) for r in regime.rights.values()}) == 1
    which = "a" if uniform else "any other"
    deadline = f"We answer {which} request within {_deadline_text(common)}"
    return [
        paragraph(
            element_id("regime", regime_id, "rights"), pointer(*at, "rights"), "Your rights:"
        ),
        BulletList(tuple(items)),
        paragraph(
            element_id("regime", regime_id, "deadline"),
            pointer(*at, "rights"),
            deadline,
        ),
    ]


#: What a right's deadline consists of: deadline, extension, extension notice, acknowledgement.
_Terms = tuple[str, str | None, str | None, str | None]


def _terms(right: Right) -> _Terms:
    return (right.deadline, right.extension, right.extension_notice, right.acknowledge)


def _deadline_text(terms: _Terms) -> str:
    """``1 month, extendable by …; we tell you … within 1 month.`` (after "within")."""
    deadline, extension, extension_notice, acknowledge = terms
    text = deadline
    if extension:
        text += f", extendable by {extension} where requests are complex or numerous"
        if extension_notice:
            text += f"; we tell you of an extension and why within {extension_notice}"
    text += "."
    if acknowledge:
        text += f" We confirm receipt within {acknowledge}."
    return text

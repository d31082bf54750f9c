"""The privacy notice generated from the policy (``servinfo.policy.notice``).

Proves, on the shipped policy and on synthetic changes of it, that the notice
covers the seed notice, that every policy element appears in it, that every
statement traces back to a policy element, that a changed policy changes the
notice, and that region variants put the right regime first.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from servinfo.cli.app import app
from servinfo.policy import Policy, UnknownPolicyElement, load_policy
from servinfo.policy.model import Contract, Processor
from servinfo.policy.notice import (
    BUILD_CAPABILITIES,
    Capability,
    NoticeFormat,
    render_notice,
)
from servinfo.policy.notice._document import (
    BulletList,
    Paragraph,
    Section,
    Statement,
    available,
)

REPO = Path(__file__).resolve().parents[2]
#: The seed notice lives in the shared folder beside the clone (CI lays a copy there).
SEED = REPO.parent / "shared" / "seed" / "000_3a679d3689a579f5.txt"
EUROPEAN_AREAS = ("eea", "uk", "ch")
VOID_ELEMENTS = frozenset({"meta", "link", "br", "hr", "img", "input", "source", "wbr"})


# -- helpers ----------------------------------------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    parent: Node | None
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def ancestors(self) -> list[Node]:
        found, node = [], self.parent
        while node is not None:
            found.append(node)
            node = node.parent
        return found

    def all_text(self) -> str:
        return "".join(self.text) + "".join(child.all_text() for child in self.children)


class TreeParser(HTMLParser):
    """A small DOM: enough to find elements, their attributes, ancestors and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root
        self.nodes: list[Node] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.nodes.append(node)
        if tag not in VOID_ELEMENTS:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"unbalanced </{tag}>"
        assert node.parent is not None, f"unbalanced </{tag}>"
        assert node is self.current, f"</{tag}> closes <{self.current.tag}>"
        self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.text.append(data)


def parse(html: str) -> TreeParser:
    parser = TreeParser()
    parser.feed(html)
    parser.close()
    assert parser.current is parser.root, f"<{parser.current.tag}> is never closed"
    return parser


def by_id(parser: TreeParser) -> dict[str, Node]:
    return {str(n.attrs["id"]): n for n in parser.nodes if n.attrs.get("id")}


def resolve(document: Any, path: str) -> Any:
    """Follow an RFC 6901 JSON pointer; raises KeyError/IndexError when it leads nowhere."""
    if path == "":
        return document
    assert path.startswith("/"), f"got '{path}', expected a JSON pointer"
    for token in path[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        document = document[int(key)] if isinstance(document, list) else document[key]
    return document


def slug(element_id: str) -> str:
    return element_id.lower().replace("-", "_").replace(".", "--")


def md_anchors(markdown: str) -> list[str]:
    return re.findall(r'<a id="([^"]+)"></a>', markdown)


def changed(policy: Policy, **update: Any) -> Policy:
    """``policy.model_copy(update=…)``, validated again.

    model_copy keeps the ``version`` a frozen Policy has already cached, so the
    copy is dumped and validated to get a policy whose version matches its content.
    """
    return Policy.model_validate(policy.model_copy(update=update).model_dump())


def european_regions(policy: Policy) -> list[str]:
    return [rid for rid, r in policy.regions.items() if r.legal_area in EUROPEAN_AREAS]


def first_regime(text: str) -> str:
    """The first regime whose section (its ``id="regime-<id>"``) the text opens."""
    match = re.search(r'id="regime-([a-z0-9_]+)"', text)
    assert match is not None
    return match.group(1)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


@pytest.fixture(scope="module")
def markdown(policy: Policy) -> str:
    return render_notice(policy, "md")


@pytest.fixture(scope="module")
def html(policy: Policy) -> str:
    return render_notice(policy, "html")


@pytest.fixture(scope="module")
def dom(html: str) -> TreeParser:
    return parse(html)


@pytest.fixture(scope="module")
def seed() -> str:
    if not SEED.is_file():
        message = f"the seed notice is missing: expected {SEED} (shared/ beside the clone)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SEED.read_text("utf-8")


# -- (1) the seed's outline, terms and front matter --------------------------------------------


def test_every_seed_heading_is_a_heading_of_the_notice_in_the_seed_order(
    seed: str, markdown: str
) -> None:
    headings = re.findall(r"^(#+) (.*)$", seed, re.MULTILINE)
    assert len(headings) >= 7
    positions = []
    for level, heading in headings:
        match = re.search(rf"^{level} {re.escape(heading.strip())}$", markdown, re.MULTILINE)
        assert match is not None, f"heading '{level} {heading}' missing"
        positions.append(match.start())
    assert positions == sorted(positions)


def test_every_seed_bold_term_is_bold_in_the_notice(seed: str, markdown: str) -> None:
    terms = re.findall(r"\*\*(.+?)\*\*", seed)
    assert len(terms) >= 13
    for term in terms:
        assert f"**{term}**" in markdown, f"bold term '{term}' missing"


def test_the_section_the_seed_refers_to_is_added(seed: str, markdown: str, dom: TreeParser) -> None:
    referred = re.findall(r"section ‘(.+?)’", seed)
    assert referred == ["European Privacy Standards and the GDPR"]
    assert f"## {referred[0]}\n" in markdown
    assert f"## {referred[0]}" not in seed
    headings = [n.all_text() for n in dom.nodes if n.tag == "h2"]
    assert referred[0] in headings


def test_front_matter_has_the_seeds_keys_in_its_order(seed: str, markdown: str) -> None:
    def front_matter(text: str) -> dict[str, Any]:
        match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
        assert match is not None
        loaded: dict[str, Any] = yaml.safe_load(match.group(1))
        return loaded

    expected, found = front_matter(seed), front_matter(markdown)
    assert list(found) == list(expected)
    assert found == expected


# -- (2) every policy element appears ------------------------------------------------------------


def expected_elements(policy: Policy) -> dict[str, str]:
    """Each element the notice must publish: its id → a text of it the notice must show."""
    found: dict[str, str] = {}
    for cid, category in policy.categories.items():
        found[f"category-{cid}"] = category.description
        for kid, kind in category.kinds.items():
            found[f"kind-{cid}--{slug(kid)}"] = kind.description
    for pid, purpose in policy.purposes.items():
        found[f"purpose-{slug(pid)}"] = purpose.description
    for rid, region in policy.regions.items():
        found[f"region-{rid}"] = region.location
        entity = policy.legal_entities[region.entity]
        found[f"legal_entity-{region.entity}"] = entity.address
    for gid, regime in policy.regimes.items():
        found[f"regime-{gid}"] = regime.notice_title
        found[f"regime-{gid}-authority"] = regime.authority.name
        for right_id, right in regime.rights.items():
            found[f"regime-{gid}-right-{right_id}"] = f"{right.name} ({right.article})"
    for source in european_regions(policy):
        for destination, mechanisms in policy.transfers[source].items():
            found[f"transfer-{source}-{slug(destination)}"] = policy.regions[source].name
            for mid in mechanisms:
                found[f"mechanism-{mid}"] = policy.mechanisms[mid].reference
    for pid, processor in policy.processors.items():
        found[f"processor-{pid}"] = processor.name
    for gid, ground in policy.disclosure_grounds.items():
        found[f"disclosure-{gid}"] = ground.description
    for mid, measure in policy.security_measures.items():
        if measure.notice:
            found[f"measure-{mid}"] = measure.description
    found["organization-dpo"] = policy.organization.dpo.email
    return found


def test_the_examples_of_the_id_scheme(dom: TreeParser) -> None:
    ids = by_id(dom)
    for example in (
        "category-account",
        "purpose-provide",
        "purpose-provide--credit_check",
        "regime-gdpr-right-access",
        "transfer-eu-us",
        "mechanism-eu_dpf",
        "measure-encryption",
        "disclosure-processor",
        "processor-relay_mail",
        "region-eu",
        "section-european",
    ):
        assert example in ids


def test_every_policy_element_appears_in_both_formats(
    policy: Policy, markdown: str, dom: TreeParser
) -> None:
    ids = by_id(dom)
    anchors = set(md_anchors(markdown))
    expected = expected_elements(policy)
    assert len(expected) > 100
    for element, text in expected.items():
        assert element in anchors, f"no anchor '{element}' in the Markdown"
        assert element in ids, f"no id '{element}' in the HTML"
        assert text in ids[element].all_text(), f"'{element}' does not show '{text}'"


def test_a_measure_not_for_the_notice_stays_out(policy: Policy, html: str) -> None:
    hidden = [mid for mid, m in policy.security_measures.items() if not m.notice]
    assert hidden
    for mid in hidden:
        assert f'id="measure-{mid}"' not in html
        assert policy.security_measures[mid].description not in html


def test_the_european_section_covers_what_the_issue_asks(policy: Policy, dom: TreeParser) -> None:
    ids = by_id(dom)
    european = ids["section-european"].all_text()
    org = policy.organization
    assert org.dpo.email in european
    assert org.contact.email in european
    for regime_id in ("gdpr", "uk_gdpr", "fadp"):
        regime = policy.regimes[regime_id]
        assert ids["section-european"] in ids[f"regime-{regime_id}"].ancestors()
        assert regime.authority.name in european
        link = [n for n in ids[f"regime-{regime_id}-authority"].children if n.tag == "a"]
        assert [n.attrs["href"] for n in link] == [regime.authority.url]
    # The legal basis of each purpose under each European regime, in one table.
    for pid, purpose in policy.purposes.items():
        row = ids[f"purpose-{slug(pid)}-grounds-european"]
        for regime_id in ("gdpr", "uk_gdpr", "fadp"):
            assert purpose.grounds[regime_id].detail in row.all_text()
    # Automated decisions: the pre-credit check, with the right to human review.
    automated = ids["section-european-automated"].all_text()
    assert policy.purposes["provide.credit_check"].description in automated
    assert "review the decision" in automated
    # Adequacy expiry dates.
    assert "Valid until 27 December 2031" in ids["mechanism-eu_adequacy_uk"].all_text()
    for regime_id in ("ccpa", "pdpa"):
        section = ids[f"regime-{regime_id}"]
        assert section.parent is not None
        assert section.parent.tag == "main"
    assert "10 business days" in ids["regime-ccpa-deadline"].all_text()


# -- (3) every statement traces back to an element ---------------------------------------------


def test_every_policy_path_resolves(policy: Policy, dom: TreeParser) -> None:
    data = policy.model_dump()
    paths = [n.attrs["data-policy-path"] for n in dom.nodes if "data-policy-path" in n.attrs]
    assert len(paths) > 200
    for path in paths:
        assert path is not None
        try:
            resolve(data, path)
        except (KeyError, IndexError, ValueError, TypeError):
            pytest.fail(f"data-policy-path '{path}' names no policy element")
    assert "/purposes/provide.credit_check" in paths


def test_every_statement_in_the_page_carries_its_policy_path(dom: TreeParser) -> None:
    main = [n for n in dom.nodes if n.tag == "main"]
    assert len(main) == 1
    statements = [
        n
        for n in dom.nodes
        if n.tag in ("p", "li", "tr", "section", "table")
        and (main[0] in n.ancestors())
        and not any(a.tag == "thead" for a in n.ancestors())
    ]
    assert len(statements) > 150
    for node in statements:
        if node.tag == "section" and str(node.attrs.get("id", "")).startswith("section-"):
            continue  # a heading of the notice's own outline; its statements carry paths
        assert node.attrs.get("data-policy-path") is not None, (
            f"<{node.tag} id={node.attrs.get('id')!r}> {node.all_text()[:60]!r} has no policy path"
        )
        assert node.attrs.get("id"), f"<{node.tag}> {node.all_text()[:60]!r} has no id"


def test_markdown_and_html_publish_the_same_statements(markdown: str, dom: TreeParser) -> None:
    anchors = md_anchors(markdown)
    html_ids = [str(n.attrs["id"]) for n in dom.nodes if n.attrs.get("id")]
    assert len(anchors) == len(set(anchors))
    assert anchors == [i for i in html_ids if i != "notice-title"]


def test_every_markdown_statement_has_an_anchor(markdown: str) -> None:
    body = markdown.split("---\n", 2)[2]
    lines = body.splitlines()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        if re.fullmatch(r"\|( --- \|)+", stripped):
            continue  # a table's delimiter row
        if number + 1 < len(lines) and re.fullmatch(r"\|( --- \|)+", lines[number + 1]):
            continue  # a table's header row
        assert re.match(r'(- |\| )?<a id="[^"]+"></a>', stripped), f"no anchor: {line[:80]!r}"


# -- (4) changing the policy changes the notice ------------------------------------------------


def test_a_changed_purpose_description_changes_both_formats(policy: Policy) -> None:
    old = policy.purposes["improve_use"].description
    new = "We use Service Information to suggest cheaper configurations (synthetic test text)."
    purposes = dict(policy.purposes)
    purposes["improve_use"] = purposes["improve_use"].model_copy(update={"description": new})
    edited = changed(policy, purposes=purposes)
    for fmt in ("md", "html"):
        notice = render_notice(edited, fmt)
        assert new in notice
        assert old not in notice
    assert edited.version != policy.version
    assert edited.version in render_notice(edited, "md")
    assert policy.version not in render_notice(edited, "md")


def test_a_new_processor_is_listed(policy: Policy) -> None:
    processor = Processor(
        name="Example Backup Ltd.",
        service="Off-site backups (synthetic)",
        country="GB",
        categories=["settings"],
        purposes=["provide"],
        regions=["eu"],
        contract=Contract(
            reference="DPA-TEST-1", signed=dt.date(2025, 1, 1), expires=dt.date(2027, 1, 1)
        ),
    )
    edited = changed(policy, processors={**policy.processors, "example_backup": processor})
    assert "Example Backup Ltd." not in render_notice(policy, "html")
    row = by_id(parse(render_notice(edited, "html")))["processor-example_backup"]
    assert row.attrs["data-policy-path"] == "/processors/example_backup"
    assert "Off-site backups (synthetic)" in row.all_text()
    assert '<a id="processor-example_backup"></a>Example Backup Ltd.' in render_notice(edited, "md")


def test_a_changed_deadline_changes_that_right_only(policy: Policy) -> None:
    gdpr = policy.regimes["gdpr"]
    rights = dict(gdpr.rights)
    rights["access"] = rights["access"].model_copy(update={"deadline": "3 weeks"})
    regimes = {**policy.regimes, "gdpr": gdpr.model_copy(update={"rights": rights})}
    edited_ids = by_id(parse(render_notice(changed(policy, regimes=regimes), "html")))
    original_ids = by_id(parse(render_notice(policy, "html")))
    assert "within 3 weeks" in edited_ids["regime-gdpr-right-access"].all_text()
    assert "within" not in original_ids["regime-gdpr-right-access"].all_text()
    # The regime's own deadline still covers the other rights.
    assert "within 1 month," in edited_ids["regime-gdpr-deadline"].all_text()
    assert "within" not in edited_ids["regime-gdpr-right-erasure"].all_text()
    for anchor in ("regime-uk_gdpr-right-access", "regime-uk_gdpr-deadline"):
        assert edited_ids[anchor].all_text() == original_ids[anchor].all_text()


def test_a_measure_withdrawn_from_the_notice_disappears(policy: Policy) -> None:
    measures = dict(policy.security_measures)
    measures["encryption"] = measures["encryption"].model_copy(update={"notice": False})
    edited = render_notice(changed(policy, security_measures=measures), "md")
    assert "measure-encryption" not in edited
    assert policy.security_measures["encryption"].description not in edited


# -- (5) region variants ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "regime"),
    [("eu", "gdpr"), ("uk", "uk_gdpr"), ("ch", "fadp"), ("us", "ccpa"), ("apac", "pdpa")],
)
def test_a_region_variant_puts_its_regime_first(policy: Policy, region: str, regime: str) -> None:
    html = render_notice(policy, "html", region=region)
    markdown = render_notice(policy, "md", region=region)
    assert first_regime(html) == regime
    assert first_regime(markdown) == regime
    ids = by_id(parse(html))
    marker = ids[f"variant-{region}"]
    assert marker.attrs["data-policy-path"] == f"/regions/{region}"
    assert "applies" in str(marker.attrs.get("class"))
    assert ids[f"regime-{regime}"] in marker.ancestors()
    assert policy.regions[region].name in marker.all_text()
    # A variant reorders and marks; it withholds nothing.
    assert set(ids) >= set(expected_elements(policy))
    # Its regime comes straight after "Regional Privacy Protections".
    regional = html.index('id="section-regional"')
    assert regional < html.index(f'id="regime-{regime}"')
    next_section = re.search(r'<section id="([^"]+)"', html[regional + 1 :])
    assert next_section is not None
    assert next_section.group(1) in (f"regime-{regime}", "section-european")


def test_the_general_notice_marks_no_region(html: str, markdown: str) -> None:
    assert 'id="variant-' not in html
    assert 'id="variant-' not in markdown
    assert first_regime(html) == "gdpr"


def test_an_unknown_region_is_refused(policy: Policy) -> None:
    with pytest.raises(UnknownPolicyElement, match=r"unknown region 'mars' \(declared: eu, "):
        render_notice(policy, "md", region="mars")


def test_an_unknown_format_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="unknown notice format 'pdf'"):
        render_notice(policy, "pdf", region=None)  # type: ignore[arg-type]


def test_cli_writes_a_region_variant(tmp_path: Path) -> None:
    out = tmp_path / "notice.html"
    result = CliRunner().invoke(
        app, ["notice", "render", "--format", "html", "--region", "eu", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    assert page.startswith("<!doctype html>")
    assert first_regime(page) == "gdpr"


def test_cli_refuses_an_unknown_region_in_one_line() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "servinfo", "notice", "render", "--region", "mars"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: unknown region 'mars'")


# -- (6) the page ----------------------------------------------------------------------------------


def test_the_page_is_a_standalone_document(html: str, dom: TreeParser, policy: Policy) -> None:
    assert html.startswith("<!doctype html>")
    tags = [n.tag for n in dom.nodes]
    assert tags.count("html") == 1
    assert dom.nodes[0].attrs.get("lang") == "en"
    titles = [n for n in dom.nodes if n.tag == "title"]
    assert [t.all_text() for t in titles] == [policy.organization.notice.title]
    assert "<style>" in html
    assert "<link " not in html
    assert "<script" not in html
    assert 'name="viewport"' in html
    nav_links = [
        n.attrs["href"]
        for n in dom.nodes
        if n.tag == "a" and "nav" in {a.tag for a in n.ancestors()}
    ]
    ids = by_id(dom)
    assert nav_links
    for href in nav_links:
        assert href is not None
        assert href[1:] in ids


def test_every_id_is_unique(dom: TreeParser) -> None:
    ids = [n.attrs["id"] for n in dom.nodes if "id" in n.attrs]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates


def test_internal_links_point_at_ids(markdown: str, dom: TreeParser) -> None:
    ids = by_id(dom)
    for target in re.findall(r"\]\(<#([^>]+)>\)", markdown):
        assert target in ids


# -- policy text is text, not markup ---------------------------------------------------------------


def test_policy_text_is_escaped_and_unsafe_links_are_not_made(policy: Policy) -> None:
    categories = dict(policy.categories)
    categories["account"] = categories["account"].model_copy(
        update={"description": "<script>alert(1)</script> *not emphasis* [not](a link) {x}"}
    )
    gdpr = policy.regimes["gdpr"]
    authority = gdpr.authority.model_copy(update={"url": "javascript:alert(1)"})
    regimes = {**policy.regimes, "gdpr": gdpr.model_copy(update={"authority": authority})}
    edited = changed(policy, categories=categories, regimes=regimes)
    html = render_notice(edited, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert "javascript:alert(1)" in by_id(parse(html))["regime-gdpr-authority"].all_text()
    markdown = render_notice(edited, "md")
    assert r"\<script\>alert(1)\</script\> \*not emphasis\* \[not\](a link) \{x\}" in markdown
    assert "<javascript:" not in markdown
    assert "](<javascript:" not in markdown


# -- (7) the notice says only what is true --------------------------------------------------------


def test_the_build_has_no_self_service_portal() -> None:
    assert Capability.SELF_SERVICE_PORTAL not in BUILD_CAPABILITIES
    assert Capability.RIGHTS_API in BUILD_CAPABILITIES


def test_the_portal_is_not_mentioned_without_it(markdown: str, html: str) -> None:
    for text in (markdown, html):
        assert "portal" not in text
        assert 'id="organization-portal"' not in text
        assert 'id="organization-api"' in text


def test_a_statement_is_rendered_with_its_capability(policy: Policy) -> None:
    with_portal = BUILD_CAPABILITIES | {Capability.SELF_SERVICE_PORTAL}
    markdown = render_notice(policy, "md", capabilities=with_portal)
    assert '<a id="organization-portal"></a>' in markdown
    portal = by_id(parse(render_notice(policy, "html", capabilities=with_portal)))
    assert "self-service portal" in portal["organization-portal"].all_text()
    assert portal["organization-portal"].attrs["data-policy-path"] == "/organization/contact"
    without_api = by_id(parse(render_notice(policy, "html", capabilities=frozenset())))
    assert "organization-api" not in without_api
    assert "organization-portal" not in without_api


def test_a_statement_that_requires_a_capability_goes_with_its_children() -> None:
    child = Statement("child", "/a/b", ("kept only with its parent",))
    needs = Statement("needs", "/a", ("needs x",), children=(child,), requires=frozenset({"x"}))
    free = Statement("free", "/c", ("always",), children=(child,))
    blocks = (
        Paragraph(needs),
        BulletList((needs, free)),
        BulletList((needs,)),
        Section("s", None, "A section", 2, (Paragraph(needs), Paragraph(free))),
    )
    assert available(blocks, {"x"}) == blocks
    kept = available(blocks, set())
    assert kept == (
        BulletList((free,)),
        Section("s", None, "A section", 2, (Paragraph(free),)),
    )
    nested = Statement("top", "/t", ("top",), children=(needs, free))
    assert available((Paragraph(nested),), set()) == (
        Paragraph(Statement("top", "/t", ("top",), children=(free,))),
    )


@pytest.mark.parametrize("fmt", ["md", "html"])
@pytest.mark.parametrize("region", [None, "eu", "uk", "ch", "us", "apac"])
def test_what_the_law_requires_is_always_rendered(
    policy: Policy, region: str | None, fmt: NoticeFormat
) -> None:
    """Rights, the authority, the DPO and the transfers, even for a build with no capability."""
    for capabilities in (BUILD_CAPABILITIES, frozenset()):
        text = render_notice(policy, fmt, region=region, capabilities=capabilities)
        ids = set(md_anchors(text)) if fmt == "md" else set(by_id(parse(text)))
        required = {"organization-dpo", "organization-contact", "transfers-table"}
        for gid, regime in policy.regimes.items():
            required |= {f"regime-{gid}-authority", f"regime-{gid}-deadline"}
            required |= {f"regime-{gid}-right-{rid}" for rid in regime.rights}
        for source in european_regions(policy):
            required |= {f"transfer-{source}-{slug(d)}" for d in policy.transfers[source]}
        assert required <= ids, sorted(required - ids)
        assert policy.organization.dpo.email in text
        for regime in policy.regimes.values():
            assert regime.authority.name.replace("'", "&#39;" if fmt == "html" else "'") in text


def test_each_regime_states_its_deadline_once(policy: Policy, dom: TreeParser) -> None:
    ids = by_id(dom)
    for gid, regime in policy.regimes.items():
        section = ids[f"regime-{gid}"].all_text()
        terms = [(r.deadline, r.extension, r.acknowledge) for r in regime.rights.values()]
        # The regime's deadline once, and a right's own only where its terms differ.
        assert section.count("We answer") == 1, gid
        differing = len(terms) - max(terms.count(t) for t in terms)
        assert section.count("we answer within") == differing, gid
        assert section.count("extendable by") <= 1, gid
        assert section.count("We confirm receipt") <= 1, gid
    assert "within" not in ids["regime-gdpr-right-access"].all_text()
    assert "within 1 month, extendable by 2 months" in ids["regime-gdpr-deadline"].all_text()
    assert "within 15 business days" in ids["regime-ccpa-right-opt_out"].all_text()


def test_countries_are_named_not_coded(dom: TreeParser) -> None:
    ids = by_id(dom)
    row = [n for n in ids["processor-sahaya_support"].children if n.tag == "td"]
    assert row[2].all_text() == "India"
    assert row[2].attrs["data-policy-path"] == "/processors/sahaya_support/country"
    destination = [n for n in ids["transfer-eu-in"].children if n.tag == "td"][1]
    assert destination.all_text().startswith("India (service providers: ")
    cells = [n.all_text() for n in dom.nodes if n.tag == "td"]
    assert not [c for c in cells if re.fullmatch(r"[A-Z]{2}( \(.*)?", c)]


def test_the_notice_shows_when_it_was_last_updated_and_its_version(
    policy: Policy, markdown: str, dom: TreeParser
) -> None:
    statement = by_id(dom)["notice-last_updated"]
    assert statement.attrs["data-policy-path"] == "/organization/notice/last_updated"
    assert statement.all_text() == f"Last updated: 4 May 2026 (policy version {policy.version})."
    assert f"Last updated: 4 May 2026 (policy version {policy.version})." in markdown
    # The same policy, the same notice; a new date, a new notice.
    assert render_notice(policy, "md") == markdown
    notice = policy.organization.notice.model_copy(update={"last_updated": dt.date(2026, 6, 1)})
    organization = policy.organization.model_copy(update={"notice": notice})
    edited = changed(policy, organization=organization)
    assert "Last updated: 1 June 2026" in render_notice(edited, "md")
    assert (
        edited.version
        in by_id(parse(render_notice(edited, "html")))["notice-last_updated"].all_text()
    )

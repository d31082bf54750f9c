"""The notice as a format-neutral document: sections of statements, each tied to the policy.

:mod:`servinfo.policy.notice._build` makes one :class:`Document` from a policy;
the Markdown and HTML templates both render that same document, so the two
formats cannot say different things. Every statement carries the HTML id /
Markdown anchor it is published under and the JSON pointer (RFC 6901) of the
policy element it states.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass, replace
from typing import Any, ClassVar


@dataclass(frozen=True)
class Link:
    """A hyperlink inside a statement's text (an authority's site, a contact address)."""

    label: str
    href: str


#: A run of statement text: plain text, or a link.
Inline = str | Link
Text = tuple[Inline, ...]


@dataclass(frozen=True)
class Statement:
    """One published statement: a paragraph or a list item, with nested items."""

    kind: ClassVar[str] = "statement"

    id: str
    path: str
    text: Text
    #: A bold lead-in such as ``Account Information`` (rendered ``**Account Information:**``).
    term: str | None = None
    children: tuple[Statement, ...] = ()
    #: Marks the statement that tells a region's reader which section applies to them.
    applies: bool = False
    #: The capabilities the statement is true only with (:mod:`.capabilities`); a notice
    #: built without one of them leaves the statement out.
    requires: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Paragraph:
    kind: ClassVar[str] = "paragraph"

    statement: Statement


@dataclass(frozen=True)
class BulletList:
    kind: ClassVar[str] = "list"

    items: tuple[Statement, ...]


@dataclass(frozen=True)
class Cell:
    text: Text
    #: The element this cell states, when it is more precise than its row's.
    path: str | None = None


@dataclass(frozen=True)
class Row:
    id: str
    path: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Table:
    kind: ClassVar[str] = "table"

    id: str
    path: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Section:
    """A heading and what it holds. ``path`` is None for headings of the notice's own outline."""

    kind: ClassVar[str] = "section"

    id: str
    path: str | None
    title: str
    level: int
    blocks: tuple[Block, ...]
    applies: bool = False

    @property
    def subsections(self) -> tuple[Section, ...]:
        return tuple(block for block in self.blocks if isinstance(block, Section))


Block = Paragraph | BulletList | Table | Section


@dataclass(frozen=True)
class Document:
    title: str
    front_matter: dict[str, Any]
    preamble: tuple[Block, ...]
    sections: tuple[Section, ...]
    footer: Statement
    #: The region whose variant this is, or None for the general notice.
    region: str | None = None

    def anchors(self) -> Iterator[str]:
        """Every id the document publishes, in document order."""
        yield from _block_ids(self.preamble)
        yield from _block_ids(self.sections)
        yield self.footer.id


def _block_ids(blocks: tuple[Block, ...]) -> Iterator[str]:
    for block in blocks:
        if isinstance(block, Paragraph):
            yield from _statement_ids(block.statement)
        elif isinstance(block, BulletList):
            for item in block.items:
                yield from _statement_ids(item)
        elif isinstance(block, Table):
            yield block.id
            yield from (row.id for row in block.rows)
        else:
            yield block.id
            yield from _block_ids(block.blocks)


def _statement_ids(statement: Statement) -> Iterator[str]:
    yield statement.id
    for child in statement.children:
        yield from _statement_ids(child)


def available(blocks: tuple[Block, ...], capabilities: Set[str]) -> tuple[Block, ...]:
    """``blocks`` without the statements that require a capability outside ``capabilities``.

    A statement left out takes its nested statements with it; a list left empty goes too.
    """
    kept: list[Block] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            statement = _available(block.statement, capabilities)
            if statement is not None:
                kept.append(Paragraph(statement))
        elif isinstance(block, BulletList):
            items = _available_all(block.items, capabilities)
            if items:
                kept.append(BulletList(items))
        elif isinstance(block, Section):
            kept.append(replace(block, blocks=available(block.blocks, capabilities)))
        else:
            kept.append(block)
    return tuple(kept)


def _available(statement: Statement, capabilities: Set[str]) -> Statement | None:
    if not statement.requires <= capabilities:
        return None
    children = _available_all(statement.children, capabilities)
    return statement if children == statement.children else replace(statement, children=children)


def _available_all(
    statements: tuple[Statement, ...], capabilities: Set[str]
) -> tuple[Statement, ...]:
    return tuple(s for s in (_available(s, capabilities) for s in statements) if s is not None)

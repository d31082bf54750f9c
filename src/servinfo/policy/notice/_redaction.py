"""The notice's statement of what free text loses before it is stored, from the policy.

One list item per group of free-text fields that the policy redacts alike (the same
types found, each replaced the same way), worded by
:func:`servinfo.policy.redaction.describe_field`, so the notice says what ingest does.
"""

from __future__ import annotations

from servinfo.policy.model import Policy
from servinfo.policy.notice._common import item, paragraph, pointer
from servinfo.policy.notice._document import Block, BulletList, Statement
from servinfo.policy.redaction import describe_field, free_text_fields


def redaction_blocks(policy: Policy) -> tuple[Block, ...]:
    """The statement and its list; nothing when the policy has no free-text field."""
    groups: dict[str, list[str]] = {}
    for kind_id, name, spec in free_text_fields(policy):
        kind = policy.kinds()[kind_id]
        groups.setdefault(describe_field(policy, spec), []).append(
            f"{kind.name.lower()} ({name.replace('_', ' ')})"
        )
    if not groups:
        return ()
    items: list[Statement] = [
        item(
            f"redaction-{index}",
            pointer("redaction"),
            f"In {_join(fields)}: {description}.",
        )
        for index, (description, fields) in enumerate(groups.items(), 1)
    ]
    return (
        paragraph(
            "redaction",
            pointer("redaction"),
            "Free text we receive (support requests, feedback, crash and bug reports, log "
            "excerpts) is redacted on arrival, before it is stored:",
        ),
        BulletList(tuple(items)),
    )


def _join(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"

"""Loading a policy file with every problem reported at its line.

A policy is read in three steps, each of which keeps going after a problem so
that one run names them all: (1) YAML is parsed into nodes that remember their
line, and duplicate keys are refused (YAML would silently keep the last);
(2) the data is checked against the model (types, unknown keys); (3) the
references between elements are checked by :mod:`servinfo.policy.validate`.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from servinfo.policy.errors import PolicyFileError, PolicyInvalid
from servinfo.policy.model import Policy
from servinfo.policy.validate import Finding, validate_policy

# PyYAML is imported when a policy file is parsed: a deployment reads its active
# policy from the control database as JSON, so most commands never parse YAML.
if TYPE_CHECKING:
    import yaml

Loc = tuple[str | int, ...]

DEFAULT_POLICY_NAME = "default.yaml"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy, where it is, and what was expected."""

    source: str
    line: int | None
    column: int | None
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


@dataclass(frozen=True)
class CheckResult:
    policy: Policy | None
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def format_path(loc: Loc) -> str:
    """``("purposes", "legal", "categories", 2)`` → ``purposes.legal.categories[2]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _LineMap:
    """Where each element of the YAML document starts (1-based line and column)."""

    def __init__(self) -> None:
        self._marks: dict[Loc, tuple[int, int]] = {}

    def add(self, loc: Loc, node: yaml.Node) -> None:
        self._marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)

    def find(self, loc: Loc) -> tuple[int | None, int | None]:
        """The position of ``loc``, or of its nearest ancestor in the file."""
        for end in range(len(loc), -1, -1):
            mark = self._marks.get(loc[:end])
            if mark is not None:
                return mark
        return None, None


def _walk(
    node: yaml.Node, loc: Loc, lines: _LineMap, duplicates: list[tuple[Loc, yaml.Node]]
) -> None:
    import yaml

    lines.add(loc, node)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                duplicates.append(((*loc, key), key_node))
            seen.add(key)
            lines.add((*loc, key), key_node)
            _walk(value_node, (*loc, key), lines, duplicates)
            # The value's own mark is more useful for scalars on the key's line.
            if not isinstance(value_node, yaml.ScalarNode):
                lines.add((*loc, key), key_node)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, duplicates)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that the element at ``loc`` is validated against."""
    annotation: Any = Policy
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
        else:
            return None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation


def _describe(error: Any) -> tuple[Loc, str]:
    loc: Loc = tuple(p for p in error["loc"] if p != "[key]")
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        expected = ", ".join(model.model_fields) if model else "see the policy reference"
        return loc, f"unknown key '{loc[-1]}' (expected one of: {expected})"
    if kind == "missing":
        return loc, f"missing required key '{loc[-1]}'"
    if kind == "string_pattern_mismatch":
        value = error.get("input")
        return loc, f"'{value}' is not a valid id or code ({error['msg'].lower()})"
    if kind == "literal_error":
        return loc, f"got {error.get('input')!r}, {error['msg'].lower()}"
    return loc, f"{error['msg']} (got {error.get('input')!r})"


def check_policy_text(text: str, source: str, today: dt.date) -> CheckResult:
    """Parse and validate a policy document; every problem is returned, none raised."""
    import yaml

    problems: list[Problem] = []
    lines = _LineMap()
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        where = f"line {line}, column {column}" if mark else "unknown position"
        reason = error.problem or error.context or "malformed YAML"
        return CheckResult(
            None, [Problem(source, line, column, "", f"malformed YAML at {where}: {reason}")]
        )
    except yaml.YAMLError as error:
        return CheckResult(None, [Problem(source, None, None, "", f"malformed YAML: {error}")])

    if node is None or not isinstance(data, dict):
        return CheckResult(None, [Problem(source, 1, 1, "", "the policy must be a YAML mapping")])

    duplicates: list[tuple[Loc, yaml.Node]] = []
    _walk(node, (), lines, duplicates)
    for loc, key_node in duplicates:
        problems.append(
            Problem(
                source,
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
                format_path(loc),
                f"duplicate id '{loc[-1]}' (an earlier entry has the same key)",
            )
        )

    try:
        policy = Policy.model_validate(data)
    except ValidationError as invalid:
        for item in invalid.errors():
            loc, message = _describe(item)
            line, column = lines.find(loc)
            problems.append(Problem(source, line, column, format_path(loc), message))
        return CheckResult(None, problems)

    for finding in validate_policy(policy, today):
        line, column = lines.find(finding.loc)
        problems.append(
            Problem(
                source, line, column, format_path(finding.loc), finding.message, finding.severity
            )
        )
    has_errors = any(p.severity == "error" for p in problems)
    return CheckResult(None if has_errors else policy, problems)


def default_policy_text() -> str:
    return resources.files("servinfo.policy").joinpath(DEFAULT_POLICY_NAME).read_text("utf-8")


def check_policy_file(path: Path | None, today: dt.date | None = None) -> CheckResult:
    """Check ``path``, or the default policy shipped with servinfo when ``path`` is None."""
    today = today or dt.date.today()
    if path is None:
        return check_policy_text(default_policy_text(), DEFAULT_POLICY_NAME, today)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise PolicyFileError(f"policy file not found: {path}") from None
    except IsADirectoryError:
        raise PolicyFileError(f"policy path is a directory, expected a YAML file: {path}") from None
    except UnicodeDecodeError:
        raise PolicyFileError(f"policy file is not UTF-8 text: {path}") from None
    except OSError as error:
        raise PolicyFileError(f"cannot read policy file {path}: {error.strerror}") from None
    return check_policy_text(text, path.name, today)


def load_policy(path: Path | None = None, today: dt.date | None = None) -> Policy:
    """The valid policy at ``path`` (default: the shipped one), or :class:`PolicyInvalid`."""
    result = check_policy_file(path, today)
    if result.policy is None:
        raise PolicyInvalid([str(p) for p in result.errors])
    return result.policy


def load_policy_text(text: str, source: str = "<policy>", today: dt.date | None = None) -> Policy:
    result = check_policy_text(text, source, today or dt.date.today())
    if result.policy is None:
        raise PolicyInvalid([str(p) for p in result.errors])
    return result.policy


__all__ = [
    "CheckResult",
    "Finding",
    "Problem",
    "check_policy_file",
    "check_policy_text",
    "default_policy_text",
    "format_path",
    "load_policy",
    "load_policy_text",
]

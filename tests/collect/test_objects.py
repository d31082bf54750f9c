"""parse_json: orjson's speed, the standard library's values and errors.

The reference is what ingest did with the standard library alone; parse_json
must return the same value (same types: an int stays an int, -0.0 stays
-0.0) or raise the same MalformedJSON, whatever the input.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servinfo.collect.errors import MalformedJSON
from servinfo.collect.objects import _parse_json_stdlib, parse_json

# The standard library alone, as ingest parsed before orjson: the reference.
_reference = _parse_json_stdlib


def _outcome(parse: Any, data: bytes, line: int | None) -> tuple[str, object]:
    try:
        return "value", _typed(parse(data, line))
    except MalformedJSON as error:
        return "error", (error.message, error.line, error.column)


def _typed(value: object) -> object:
    """The value with every scalar tagged by its type, so that 1 != 1.0 and 0.0 != -0.0."""
    if isinstance(value, dict):
        return ("dict", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    if isinstance(value, float):
        return ("float", value, math.copysign(1.0, value))
    return (type(value).__name__, value)


def _assert_same(data: bytes, line: int | None = None) -> None:
    expected = _outcome(_reference, data, line)
    found = _outcome(lambda d, n: parse_json(d, line=n), data, line)
    assert found == expected


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**66), max_value=2**66)
    | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=24,
)
_NUMBER_TEXT = st.from_regex(
    r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)


@given(_VALUES, st.booleans(), st.sampled_from([None, 1, 7]))
def test_documents_parse_to_the_same_values(
    value: object, ascii_only: bool, line: int | None
) -> None:
    _assert_same(json.dumps(value, ensure_ascii=ascii_only).encode(), line)


@given(_NUMBER_TEXT)
def test_numbers_parse_to_the_same_values(text: str) -> None:
    _assert_same(text.encode())
    _assert_same(f'{{"n": [{text}]}}'.encode())


@given(_VALUES, st.data())
def test_corrupted_documents_fail_or_parse_alike(value: object, data: st.DataObject) -> None:
    document = bytearray(json.dumps(value, ensure_ascii=False).encode())
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(document)))
        document[at:at] = data.draw(st.binary(min_size=1, max_size=2))
    _assert_same(bytes(document), data.draw(st.sampled_from([None, 3])))


@given(st.binary(max_size=64))
def test_any_bytes_fail_or_parse_alike(data: bytes) -> None:
    _assert_same(data)


@pytest.mark.parametrize(
    "document",
    [
        b'{"n": 18446744073709551616}',  # orjson alone would return a float
        b'{"n": -9223372036854775809}',
        b'{"n": 123456789012345678901234567890}',
        b'{"n": 1e400}',  # the standard library's infinity
        b'{"s": "\\ud800"}',  # a lone surrogate escape
        b'{"n": NaN}',
        b"[Infinity]",
        b'{"s": "caf\xc3"}',
        b"\xef\xbb\xbf{}",
        b'{"type": "record",\n "kind": }',
        b'{"a": 1}\n{"b": 2}',
        b'{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, in the first place
        b"",
        b"[1,]",
        b"[" * 1020 + b"]" * 1020,  # deeper than the standard library goes, not orjson
        b"[" * 300 + b"]" * 300,
        b'{"a": "' + b"[" * 400 + b'"}',
    ],
)
def test_the_edges_of_the_two_parsers_parse_alike(document: bytes) -> None:
    _assert_same(document)
    _assert_same(document, line=4)


def test_big_integers_stay_exact() -> None:
    assert parse_json(b'{"n": 18446744073709551616}') == {"n": 2**64}


def test_errors_name_line_and_column() -> None:
    with pytest.raises(MalformedJSON) as refused:
        parse_json(b'{"a": 1,\n "b": }')
    assert refused.value.message.startswith("line 2, column 7:")
    with pytest.raises(MalformedJSON) as refused:
        parse_json(b'{"a": "\xff"}', line=9)
    assert refused.value.message == "line 9, column 8: not UTF-8"
    with pytest.raises(MalformedJSON) as refused:
        parse_json(b"[" * 1020 + b"]" * 1020, line=2)
    assert refused.value.message == "line 2, column 1: nested too deeply"

"""The sealed form of a record's fields: compact JSON, exactly as json.dumps writes it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servinfo.store._codec import decode_fields, encode_fields
from servinfo.store.errors import InvalidRecord

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _json_values))
def test_fields_encode_as_compact_json_and_decode_back(fields: dict[str, Any]) -> None:
    sealed = encode_fields(fields, "record r")
    expected = json.dumps(fields, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert sealed == expected.encode()
    assert decode_fields(sealed) == fields


@pytest.mark.parametrize("value", [math.nan, math.inf, object(), b"bytes", {1.5j}], ids=repr)
def test_what_is_not_json_is_refused_with_the_record_named(value: object) -> None:
    with pytest.raises(InvalidRecord, match="record r7: fields must be JSON values"):
        encode_fields({"field": value}, "record r7")


def test_a_cycle_is_refused_not_a_crash() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(InvalidRecord, match="record r8"):
        encode_fields(cyclic, lambda: "record r8")

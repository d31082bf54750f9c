from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servinfo.crypto import (
    DataKey,
    IntegrityError,
    KekWrapper,
    Keyring,
    KeyringError,
    RecordBinding,
    Sealer,
    UnwrapError,
    data_key_context,
    new_data_key,
    rewrap,
    unwrap_data_key,
    wrap_data_key,
)

BINDING = RecordBinding(
    record_id="01HV8Z3K4M5N6P7Q8R9S0T1V2W",
    subject_id="sub-42",
    category="account",
    kind="profile",
    region="eu",
    schema_version=3,
)
PLAINTEXT = b'{"email": "alice@example.com"}'
# A module-level key: hypothesis tests must not depend on function-scoped fixtures.
SEALER = Sealer(DataKey("dk-1", bytes(range(32))))
BLOB = SEALER.seal(BINDING, PLAINTEXT)
CONTEXT = data_key_context("sub-42", "eu", "contract")
_RecordToSeal = tuple[Sealer, str, str, str, str, int, bytes]


def test_round_trip() -> None:
    assert SEALER.open(BINDING, BLOB) == PLAINTEXT
    assert len(BLOB) == 12 + len(PLAINTEXT) + 16
    assert PLAINTEXT not in BLOB


def test_each_seal_uses_a_fresh_nonce() -> None:
    again = SEALER.seal(BINDING, PLAINTEXT)
    assert again[:12] != BLOB[:12]
    assert SEALER.open(BINDING, again) == PLAINTEXT


def test_empty_plaintext_round_trips() -> None:
    assert SEALER.open(BINDING, SEALER.seal(BINDING, b"")) == b""


def test_failure_names_the_record_and_nothing_else() -> None:
    other = dataclasses.replace(BINDING, record_id="01HV8Z3K4M5N6P7Q8R9S0T1V2X")
    with pytest.raises(IntegrityError) as info:
        SEALER.open(other, BLOB)
    expected = "record 01HV8Z3K4M5N6P7Q8R9S0T1V2X: ciphertext failed its integrity check"
    assert str(info.value) == expected
    assert info.value.record_id == "01HV8Z3K4M5N6P7Q8R9S0T1V2X"
    assert info.value.code == "integrity_error"
    assert info.value.__cause__ is None


def test_wrong_data_key_fails() -> None:
    other = Sealer(DataKey("dk-2", new_data_key()))
    with pytest.raises(IntegrityError, match="ciphertext failed its integrity check"):
        other.open(BINDING, BLOB)


@given(position=st.integers(0, len(BLOB) - 1), mask=st.integers(1, 255))
def test_flipping_any_bit_pattern_of_any_byte_fails(position: int, mask: int) -> None:
    tampered = bytearray(BLOB)
    tampered[position] ^= mask
    with pytest.raises(IntegrityError):
        SEALER.open(BINDING, bytes(tampered))


@given(length=st.integers(0, len(BLOB) - 1))
def test_any_truncation_fails(length: int) -> None:
    with pytest.raises(IntegrityError):
        SEALER.open(BINDING, BLOB[:length])


@given(extra=st.binary(min_size=1, max_size=8))
def test_appended_bytes_fail(extra: bytes) -> None:
    with pytest.raises(IntegrityError):
        SEALER.open(BINDING, BLOB + extra)


_TEXT_FIELDS = ["record_id", "subject_id", "category", "kind", "region"]


@given(
    field=st.sampled_from(_TEXT_FIELDS),
    value=st.text(max_size=30),
    schema_version=st.integers(0, 2**32 - 1),
)
def test_any_other_binding_fails(field: str, value: str, schema_version: int) -> None:
    other = dataclasses.replace(BINDING, **{field: value}, schema_version=schema_version)
    if other == BINDING:
        return  # only a different binding must fail
    with pytest.raises(IntegrityError):
        SEALER.open(other, BLOB)


def test_aad_known_answer() -> None:
    binding = RecordBinding("r", "s", "c", "k", "eu", 258)
    assert binding.aad() == (
        b"\x01"
        + b"\x00\x00\x00\x01r"
        + b"\x00\x00\x00\x01s"
        + b"\x00\x00\x00\x01c"
        + b"\x00\x00\x00\x01k"
        + b"\x00\x00\x00\x02eu"
        + b"\x00\x00\x01\x02"
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("ab", "c", "x", "y", "z"), ("a", "bc", "x", "y", "z")),
        (("a", "b", "", "y", "z"), ("a", "", "b", "y", "z")),
        (("", "", "", "", "abc"), ("abc", "", "", "", "")),
    ],
)
def test_aad_encoding_is_unambiguous(
    first: tuple[str, str, str, str, str], second: tuple[str, str, str, str, str]
) -> None:
    assert RecordBinding(*first, 1).aad() != RecordBinding(*second, 1).aad()


@given(
    a=st.tuples(*[st.text(max_size=4)] * 5, st.integers(0, 3)),
    b=st.tuples(*[st.text(max_size=4)] * 5, st.integers(0, 3)),
)
def test_aad_is_injective(
    a: tuple[str, str, str, str, str, int], b: tuple[str, str, str, str, str, int]
) -> None:
    assert (RecordBinding(*a).aad() == RecordBinding(*b).aad()) == (a == b)


def test_schema_version_must_fit_the_encoding() -> None:
    with pytest.raises(ValueError, match="schema_version must be 0 to 4294967295, got -1"):
        dataclasses.replace(BINDING, schema_version=-1)


def test_data_key_repr_hides_the_secret() -> None:
    key = DataKey("dk-1", bytes(range(32)))
    assert repr(key) == "DataKey(key_id='dk-1')"
    assert repr(SEALER) == "Sealer(key_id='dk-1')"


def test_new_data_keys_are_random_256_bit() -> None:
    keys = {new_data_key() for _ in range(8)}
    assert len(keys) == 8
    assert {len(k) for k in keys} == {32}


def test_data_key_context_is_unambiguous() -> None:
    assert data_key_context("a,b", "c", "d") != data_key_context("a", "b,c", "d")
    assert data_key_context('a"', "b", "c") != data_key_context("a", '"b', "c")


def test_wrap_unwrap_data_key(keyring: Keyring) -> None:
    kek = keyring.current("kek:eu")
    data_key = new_data_key()
    wrapped = wrap_data_key(kek, data_key, CONTEXT)
    assert len(wrapped) == 1 + 12 + 32 + 16
    assert data_key not in wrapped
    assert unwrap_data_key(kek, wrapped, CONTEXT) == data_key


def test_wrapped_data_key_is_bound_to_context_and_kek(keyring: Keyring) -> None:
    kek = keyring.current("kek:eu")
    wrapped = wrap_data_key(kek, new_data_key(), CONTEXT)
    with pytest.raises(UnwrapError, match="'data key under kek:eu:v1' failed its integrity check"):
        unwrap_data_key(kek, wrapped, data_key_context("sub-43", "eu", "contract"))
    with pytest.raises(UnwrapError):
        unwrap_data_key(keyring.current("kek:us"), wrapped, CONTEXT)
    with pytest.raises(UnwrapError):
        unwrap_data_key(kek, wrapped[:-1], CONTEXT)


def test_only_key_encryption_keys_wrap_data_keys(keyring: Keyring) -> None:
    with pytest.raises(KeyringError, match="'blind_index:v1' is not a key-encryption key"):
        wrap_data_key(keyring.current("blind_index"), new_data_key(), CONTEXT)


def test_rewrap_after_rotation_keeps_records_readable(keyring: Keyring) -> None:
    old_kek = keyring.current("kek:eu")
    data_key = new_data_key()
    wrapped = wrap_data_key(old_kek, data_key, CONTEXT)
    blob = Sealer(DataKey("dk", data_key)).seal(BINDING, PLAINTEXT)

    new_kek = keyring.rotate("kek:eu")
    rewrapped = rewrap(old_kek, new_kek, wrapped, CONTEXT)
    with pytest.raises(UnwrapError):
        unwrap_data_key(old_kek, rewrapped, CONTEXT)
    recovered = unwrap_data_key(keyring.get("kek:eu:v2"), rewrapped, CONTEXT)
    assert recovered == data_key
    assert Sealer(DataKey("dk", recovered)).open(BINDING, blob) == PLAINTEXT


def _to_seal(sealer: Sealer, binding: RecordBinding, plaintext: bytes) -> _RecordToSeal:
    b = binding
    return (sealer, b.record_id, b.subject_id, b.category, b.kind, b.schema_version, plaintext)


def test_seal_records_is_seal_without_the_binding_objects() -> None:
    other_key = Sealer(DataKey("dk-2", bytes(range(1, 33))))
    other = dataclasses.replace(BINDING, record_id="01HV8Z3K4M5N6P7Q8R9S0T1V2X", kind="x")
    blobs = Sealer.seal_records(
        "eu", [_to_seal(SEALER, BINDING, PLAINTEXT), _to_seal(other_key, other, b"")]
    )
    assert SEALER.open(BINDING, blobs[0]) == PLAINTEXT
    assert other_key.open(other, blobs[1]) == b""
    assert len(blobs[0]) == len(BLOB)
    with pytest.raises(IntegrityError):
        SEALER.open(dataclasses.replace(BINDING, region="us"), blobs[0])
    with pytest.raises(IntegrityError):
        SEALER.open(other, blobs[1])  # each record under its own sealer's key
    assert Sealer.seal_records("eu", []) == []


def test_seal_records_draws_a_fresh_nonce_per_record() -> None:
    blobs = Sealer.seal_records("eu", [_to_seal(SEALER, BINDING, PLAINTEXT)] * 200)
    again = Sealer.seal_records("eu", [_to_seal(SEALER, BINDING, PLAINTEXT)] * 200)
    nonces = {blob[:12] for blob in blobs + again}
    assert len(nonces) == 400  # none repeated, within a call or across calls
    assert BLOB[:12] not in nonces


def test_seal_records_checks_the_schema_version() -> None:
    entry = (SEALER, "r", "s", "c", "k", 2**32, PLAINTEXT)
    with pytest.raises(ValueError, match="schema_version must be 0 to 4294967295, got 4294967296"):
        Sealer.seal_records("eu", [entry])


@given(st.tuples(*[st.text(max_size=4)] * 5, st.integers(0, 2**32 - 1)))
def test_seal_records_uses_the_binding_aad(fields: tuple[str, str, str, str, str, int]) -> None:
    record_id, subject_id, category, kind, region, version = fields
    [blob] = Sealer.seal_records(
        region, [(SEALER, record_id, subject_id, category, kind, version, b"x")]
    )
    assert SEALER.open(RecordBinding(*fields), blob) == b"x"


def test_kek_wrapper_speaks_the_wrap_data_key_format(keyring: Keyring) -> None:
    kek = keyring.current("kek:eu")
    wrapper = KekWrapper(kek)
    assert wrapper.key_id == "kek:eu:v1"
    assert repr(wrapper) == "KekWrapper(key_id='kek:eu:v1')"
    data_key = new_data_key()
    wrapped = wrapper.wrap(data_key, CONTEXT)
    assert len(wrapped) == 1 + 12 + 32 + 16
    assert unwrap_data_key(kek, wrapped, CONTEXT) == data_key
    assert wrapper.unwrap(wrap_data_key(kek, data_key, CONTEXT), CONTEXT) == data_key


def test_kek_wrapper_makes_fresh_wrapped_keys(keyring: Keyring) -> None:
    kek = keyring.current("kek:eu")
    contexts = [data_key_context(f"sub-{i}", "eu", "contract") for i in range(20)]
    made = KekWrapper(kek).new_wrapped_keys(contexts)
    assert len({secret for secret, _ in made}) == 20
    assert len({wrapped[1:13] for _, wrapped in made}) == 20  # distinct nonces
    for (secret, wrapped), context in zip(made, contexts, strict=True):
        assert len(secret) == 32
        assert unwrap_data_key(kek, wrapped, context) == secret
    assert KekWrapper(kek).new_wrapped_keys([]) == []


def test_kek_wrapper_failures(keyring: Keyring) -> None:
    wrapper = KekWrapper(keyring.current("kek:eu"))
    wrapped = wrapper.wrap(new_data_key(), CONTEXT)
    with pytest.raises(UnwrapError, match="'data key under kek:eu:v1' failed its integrity check"):
        wrapper.unwrap(wrapped, data_key_context("sub-43", "eu", "contract"))
    with pytest.raises(UnwrapError):
        KekWrapper(keyring.current("kek:us")).unwrap(wrapped, CONTEXT)
    for damaged in (wrapped[:-1], b"\x02" + wrapped[1:], wrapped[:20]):
        with pytest.raises(UnwrapError):
            wrapper.unwrap(damaged, CONTEXT)
    with pytest.raises(ValueError, match="a data key is 32 bytes, got 16"):
        wrapper.wrap(bytes(16), CONTEXT)
    with pytest.raises(KeyringError, match="'blind_index:v1' is not a key-encryption key"):
        KekWrapper(keyring.current("blind_index"))


def test_data_key_context_is_a_json_array() -> None:
    assert data_key_context("sub-é", "eu", "contract") == '["sub-é", "eu", "contract"]'


@given(st.text(), st.text(), st.text())
def test_data_key_context_is_json_dumps(subject_id: str, region: str, retention_class: str) -> None:
    expected = json.dumps([subject_id, region, retention_class], ensure_ascii=False)
    assert data_key_context(subject_id, region, retention_class) == expected

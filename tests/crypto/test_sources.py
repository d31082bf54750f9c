from __future__ import annotations

import pytest

from servinfo.crypto import KeyWrapper, LocalMasterKeyWrapper, MasterKeyError, UnwrapError


def test_local_wrapper_implements_the_protocol(wrapper: LocalMasterKeyWrapper) -> None:
    assert isinstance(wrapper, KeyWrapper)


def test_round_trip(wrapper: LocalMasterKeyWrapper) -> None:
    wrapped = wrapper.wrap("kr/kek:eu:v1", b"k" * 32)
    assert len(wrapped) == 1 + 12 + 32 + 16
    assert b"k" * 32 not in wrapped
    assert wrapper.unwrap("kr/kek:eu:v1", wrapped) == b"k" * 32


def test_label_is_bound(wrapper: LocalMasterKeyWrapper) -> None:
    wrapped = wrapper.wrap("kr/kek:eu:v1", b"k" * 32)
    with pytest.raises(UnwrapError, match="wrapped key 'kr/kek:us:v1' failed its integrity check"):
        wrapper.unwrap("kr/kek:us:v1", wrapped)


def test_other_master_key_cannot_unwrap(wrapper: LocalMasterKeyWrapper) -> None:
    wrapped = wrapper.wrap("label", b"k" * 32)
    with pytest.raises(UnwrapError):
        LocalMasterKeyWrapper(bytes(32)).unwrap("label", wrapped)


@pytest.mark.parametrize("wrapped", [b"", b"\x01" + bytes(27), b"\x02" + bytes(60)])
def test_malformed_input_fails_closed(wrapper: LocalMasterKeyWrapper, wrapped: bytes) -> None:
    with pytest.raises(UnwrapError):
        wrapper.unwrap("label", wrapped)


def test_master_key_length_checked_and_never_shown(master_key: bytes) -> None:
    with pytest.raises(MasterKeyError, match="a master key is 32 bytes, got 31"):
        LocalMasterKeyWrapper(master_key[:31])
    assert repr(LocalMasterKeyWrapper(master_key)) == "LocalMasterKeyWrapper(<master key hidden>)"

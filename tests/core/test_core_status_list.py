"""Bitstring Status List core: bit order, encoding, bounded decoding, entries, list credentials."""

from __future__ import annotations

import base64
import gzip

import pytest

from registry.core import status_list as sl
from registry.errors import InputError

# the Recommendation's example list credential (section 2.3): an all-zero list of 131,072 entries
SPEC_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_the_recommendations_example_decodes_to_an_empty_list_of_the_minimum_size() -> None:
    bits = sl.decode_list(SPEC_EXAMPLE)
    assert len(bits) * 8 == sl.LIST_SIZE
    assert not any(bits)


def test_bit_zero_is_the_most_significant_bit_of_the_first_byte() -> None:
    bits = sl.empty_bits(16)
    sl.set_bit(bits, 0)
    sl.set_bit(bits, 9)
    assert bytes(bits) == bytes([0b1000_0000, 0b0100_0000])
    assert sl.get_bit(bits, 0) and sl.get_bit(bits, 9) and not sl.get_bit(bits, 1)
    sl.set_bit(bits, 0, False)
    assert bytes(bits) == bytes([0, 0b0100_0000])


def test_encoding_round_trips_and_is_deterministic() -> None:
    bits = sl.bits_for([(5, "revoked"), (131_071, "revoked"), (7, "suspended")], sl.Purpose.revocation)
    enc = sl.encode_list(bits)
    assert enc.startswith("u") and "=" not in enc
    assert sl.encode_list(bytearray(bits)) == enc
    back = sl.decode_list(enc)
    assert back == bytes(bits)
    assert [i for i in range(sl.LIST_SIZE) if sl.get_bit(back, i)] == [5, 131_071]


def test_suspension_bits_take_only_suspended_credentials() -> None:
    bits = sl.bits_for([(1, "revoked"), (2, "suspended"), (3, "none")], sl.Purpose.suspension)
    assert [i for i in range(8) if sl.get_bit(bits, i)] == [2]


@pytest.mark.parametrize(
    "encoded",
    [
        None,
        "zABC",  # another multibase
        "u" + "A" * 10 + "=",  # padding
        "u!!!!",
        "u" + base64.urlsafe_b64encode(b"not gzip").rstrip(b"=").decode(),
        "u" + base64.urlsafe_b64encode(gzip.compress(b"\0" * 100, mtime=0)).rstrip(b"=").decode(),  # short
        "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16384), mtime=0)[:-6]).rstrip(b"=").decode(),
    ],
)
def test_malformed_lists_are_refused(encoded: object) -> None:
    with pytest.raises(InputError) as exc:
        sl.decode_list(encoded)
    assert exc.value.code == "malformed_status_list"


def test_a_gzip_bomb_is_refused_without_expanding_it() -> None:
    bomb = gzip.compress(bytes(sl.MAX_LIST_BITS // 8 + 1), mtime=0)
    encoded = "u" + base64.urlsafe_b64encode(bomb).rstrip(b"=").decode()
    assert len(encoded) < sl.MAX_ENCODED_CHARS
    with pytest.raises(InputError, match="expands past"):
        sl.decode_list(encoded)


def test_entries_round_trip_and_malformed_entries_are_refused() -> None:
    entry = sl.Entry("https://reg.example/status/1", 42, sl.Purpose.suspension)
    doc = {"credentialStatus": [entry.to_json(), {"type": "SomethingElse"}]}
    assert sl.status_entries(doc) == [entry]
    bad = dict(entry.to_json(), statusListIndex=42)
    with pytest.raises(InputError):
        sl.parse_entry(bad)
    with pytest.raises(InputError):
        sl.parse_entry(dict(entry.to_json(), statusPurpose="message"))
    with pytest.raises(IndexError):
        sl.get_bit(sl.empty_bits(), sl.LIST_SIZE)


def test_list_credential_shape() -> None:
    cred = sl.list_credential(list_url="https://reg.example/status/1", issuer="did:key:z6Mk",
                              purpose=sl.Purpose.revocation, bits=sl.empty_bits(),
                              valid_from="2026-12-01T00:00:00Z", valid_until="2026-12-02T00:00:00Z", block=7)
    assert cred["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert cred["credentialSubject"]["type"] == "BitstringStatusList"
    assert "block 7" in cred["description"]
    assert sl.decode_list(cred["credentialSubject"]["encodedList"]) == bytes(sl.LIST_SIZE // 8)

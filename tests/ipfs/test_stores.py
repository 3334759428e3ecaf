"""One suite, two stores: every test here runs against LocalStore and against KuboStore on a
real js-ipfs daemon (see conftest.py)."""

from __future__ import annotations

import hashlib
import os

import pytest
from multiformats import CID

from registry.core.cid import cid_for_bytes, cid_from_digest, parse_cid, same_cid
from registry.errors import InputError, NotFoundError, StoreError
from registry.ipfs import ContentNotFound, ContentStore, KuboStore, LocalStore

KIB = 1024
MIB = 1024 * KIB

# 0 B, small, the 256 KiB chunk boundary of `ipfs add` ±1, the 1 MiB document cap, and one
# object over the 1 MiB IPFS block limit (a batch manifest of ~16k credentials is that big).
SIZES = [0, 1, 300, 256 * KIB - 1, 256 * KIB, 256 * KIB + 1, MIB - 1, MIB, 2 * MIB + 3]


def _data(n: int) -> bytes:
    return os.urandom(n)


def test_store_follows_the_protocol(store: ContentStore) -> None:
    assert isinstance(store, ContentStore)


@pytest.mark.parametrize("size", SIZES, ids=[f"{n}B" for n in SIZES])
def test_round_trip_binds_cid_to_digest(store: ContentStore, size: int) -> None:
    data = _data(size)
    cid = store.put(data)
    digest = hashlib.sha256(data).digest()
    parsed = parse_cid(cid)
    assert cid.startswith("bafkrei")  # CIDv1, raw, sha2-256, base32
    assert (parsed.version, parsed.codec, parsed.hash_code, parsed.digest) == (1, "raw", 0x12, digest)
    assert cid == cid_from_digest(digest)
    assert store.has(cid)
    assert store.get(cid) == data


def test_put_is_idempotent(store: ContentStore) -> None:
    data = b'{"id":"urn:uuid:0b5d0f4e-4a8e-4f5e-9a59-4d6c2b3f1a11"}'
    assert store.put(data) == store.put(data) == cid_for_bytes(data)
    assert store.get(cid_for_bytes(data)) == data


def test_get_accepts_any_base_of_the_cid(store: ContentStore) -> None:
    data = b"same block, two spellings"
    cid = store.put(data)
    b58 = CID.decode(cid).encode("base58btc")
    assert b58.startswith("z") and b58 != cid
    assert same_cid(b58, cid)
    assert store.get(b58) == data
    assert store.has(b58)


def test_get_of_unknown_cid_is_not_found(store: ContentStore) -> None:
    unknown = cid_for_bytes(b"never stored " + os.urandom(16))
    assert not store.has(unknown)
    with pytest.raises(ContentNotFound) as info:
        store.get(unknown)
    assert isinstance(info.value, NotFoundError) and isinstance(info.value, StoreError)
    assert info.value.code == "not_found"
    assert unknown in str(info.value)


def test_pin_of_unknown_cid_is_not_found(store: ContentStore) -> None:
    with pytest.raises(ContentNotFound):
        store.pin(cid_for_bytes(b"not here " + os.urandom(16)))


def test_pin_of_stored_object(store: ContentStore) -> None:
    cid = store.put(b"pin me")
    store.pin(cid)
    assert store.get(cid) == b"pin me"


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ("not-a-cid", "invalid_cid"),
        ("", "invalid_cid"),
        # a dag-pb CIDv0: a fine IPFS CID, but not raw sha2-256, so no store here holds it
        ("QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vtD1", "unsupported_cid"),
    ],
)
def test_cid_that_is_not_raw_sha256_is_rejected(store: ContentStore, bad: str, code: str) -> None:
    for op in (store.get, store.has, store.pin):
        with pytest.raises(InputError) as info:
            op(bad)
        assert info.value.code == code


def test_object_over_the_cap_is_rejected(store_factory) -> None:  # type: ignore[no-untyped-def]
    small = store_factory(max_bytes=1000)
    assert parse_cid(small.put(b"x" * 1000)).digest == hashlib.sha256(b"x" * 1000).digest()
    too_big = b"y" * 1001
    with pytest.raises(InputError) as info:
        small.put(too_big)
    assert info.value.code == "object_too_large"
    assert not small.has(cid_for_bytes(too_big))


def test_both_stores_give_the_same_cid(local_store: LocalStore, kubo_store: KuboStore) -> None:
    for data in (b"", b"hello", _data(256 * KIB + 1), _data(MIB)):
        a, b = local_store.put(data), kubo_store.put(data)
        assert a == b == cid_for_bytes(data)
        assert kubo_store.get(a) == local_store.get(b) == data

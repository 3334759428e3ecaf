"""Hex helpers and CIDs: the CID of the canonical bytes names the digest."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import CID

from registry.core.cid import (
    cid_for_bytes,
    cid_from_digest,
    digest_from_cid,
    parse_cid,
    same_cid,
)
from registry.core.hexutil import bytes32, from_hex, to_hex
from registry.errors import InputError

# Well-known raw-leaf CIDs (what `ipfs add --cid-version=1` prints for one-chunk files).
EMPTY_RAW = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # b""


def test_to_hex_and_back() -> None:
    b = bytes(range(32))
    assert to_hex(b) == "0x" + b.hex()
    assert bytes32(to_hex(b)) == b
    assert bytes32(to_hex(b).upper().replace("0X", "0x")) == b
    assert bytes32(b.hex()) == b
    assert bytes32(b) == b
    assert from_hex("0x") == b""
    assert from_hex("0xABcd") == b"\xab\xcd"


@pytest.mark.parametrize("bad", ["0x" + "00" * 31, "0x" + "00" * 33, "0x" + "0" * 63, "0xzz" + "00" * 31, "",
                                 b"\x00" * 31, b"\x00" * 33])
def test_bytes32_rejects(bad: str | bytes) -> None:
    with pytest.raises(InputError) as info:
        bytes32(bad)
    assert info.value.code == "invalid_hex"


def test_cid_of_empty_block_is_the_known_one() -> None:
    assert cid_for_bytes(b"") == EMPTY_RAW
    assert digest_from_cid(EMPTY_RAW) == hashlib.sha256(b"").digest()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_cid_equals_multiformats(data: bytes) -> None:
    digest = hashlib.sha256(data).digest()
    expected = CID("base32", 1, "raw", ("sha2-256", digest))
    assert cid_for_bytes(data) == cid_from_digest(digest) == str(expected)
    assert digest_from_cid(cid_for_bytes(data)) == digest
    # same value in another base decodes to the same digest; strings differ, CIDs do not
    b58 = expected.set(base="base58btc").encode()
    assert b58.startswith("z") and b58 != cid_for_bytes(data)
    assert same_cid(b58, cid_for_bytes(data))
    assert digest_from_cid(b58) == digest


def test_parse_forms() -> None:
    digest = hashlib.sha256(b"hello").digest()
    v1 = cid_from_digest(digest)
    p = parse_cid(v1)
    assert (p.version, p.codec, p.hash_code, p.digest) == (1, "raw", 0x12, digest)
    assert parse_cid(v1.upper()[0].lower() + v1[1:]) == p  # base32 lower
    b32upper = CID.decode(v1).set(base="base32upper").encode()
    assert b32upper.startswith("B") and parse_cid(b32upper) == p
    v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    q = parse_cid(v0)
    assert (q.version, q.codec, q.hash_code) == (0, "dag-pb", 0x12)
    assert not same_cid(v0, v1)
    # a dag-pb CIDv1 with the same multihash is a different object
    pb = str(CID("base32", 1, "dag-pb", ("sha2-256", digest)))
    assert not same_cid(pb, v1)
    assert same_cid(v0, str(CID.decode(v0).set(version=1, base="base32")))


@pytest.mark.parametrize("cid", [
    "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # v0 (dag-pb)
    str(CID("base32", 1, "dag-pb", ("sha2-256", b"\x01" * 32))),
    str(CID("base32", 1, "raw", ("sha2-512", b"\x01" * 64))),
])
def test_digest_from_cid_rejects_other_kinds(cid: str) -> None:
    with pytest.raises(InputError) as info:
        digest_from_cid(cid)
    assert info.value.code == "unsupported_cid"


@pytest.mark.parametrize("bad", ["", "hello", "bafkrei", "zzzz", "Qm123", EMPTY_RAW[:-2]])
def test_parse_rejects_garbage(bad: str) -> None:
    with pytest.raises(InputError) as info:
        parse_cid(bad)
    assert info.value.code == "invalid_cid"


def test_cid_from_digest_length() -> None:
    with pytest.raises(InputError):
        cid_from_digest(b"\x00" * 31)


def _ipfs_add_cids(payloads: list[bytes]) -> list[str]:
    """CIDs that js-ipfs's importer (the pinned `ipfs` package) gives, through node, one call."""
    import base64
    import json
    import shutil
    import subprocess
    from pathlib import Path

    node = shutil.which("node")
    assert node is not None
    script = Path(__file__).with_name("ipfs_cid_oracle.mjs")
    stdin = json.dumps([base64.b64encode(p).decode() for p in payloads])
    out = subprocess.run([node, str(script)], input=stdin,
                         capture_output=True, text=True, check=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_cid_equals_what_ipfs_gives_for_a_raw_block() -> None:
    from registry.core.canonical import canonical_bytes
    from registry.core.samples import sample_badge

    doc = canonical_bytes(sample_badge(0, issuer_id="https://example.edu/i/1", issuer_name="Example"))
    chunk = 256 * 1024
    payloads = [b"", b"\x00", "Grüße, 世界".encode(), doc, bytes(range(256)) * (chunk // 256),
                b"a" * (chunk + 1)]
    got = _ipfs_add_cids(payloads)
    for data, cid in zip(payloads[:-1], got[:-1], strict=True):
        assert cid == cid_for_bytes(data)  # one chunk: a raw block, same string even
        assert digest_from_cid(cid) == hashlib.sha256(data).digest()
    # past one chunk IPFS builds a dag-pb file: not the digest's CID (the stores must handle this)
    big = parse_cid(got[-1])
    assert big.codec == "dag-pb"
    assert not same_cid(got[-1], cid_for_bytes(payloads[-1]))

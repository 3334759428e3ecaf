"""The fast path for canonical CIDs (base32 CIDv1 raw sha2-256) equals the multiformats path."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multiformats import CID

from registry.core import cid as cidmod
from registry.core.cid import (
    ParsedCid,
    cid_for_bytes,
    cid_from_digest,
    digest_from_cid,
    parse_cid,
    same_cid,
)
from registry.errors import InputError


def _slow(s: str) -> ParsedCid:
    """The general path (multiformats), bypassing the fast one."""
    return cidmod._decode(s)


@given(st.binary(min_size=32, max_size=32))
def test_fast_path_equals_multiformats_for_every_digest(digest: bytes) -> None:
    s = cid_from_digest(digest)
    assert cidmod._fast_digest(s) == digest  # the canonical form takes the fast path
    assert parse_cid(s) == _slow(s) == ParsedCid(1, "raw", 0x12, digest)
    assert digest_from_cid(s) == digest == bytes(CID.decode(s).raw_digest)


@given(st.binary(max_size=4096))
def test_fast_path_on_content_cids(data: bytes) -> None:
    s = cid_for_bytes(data)
    assert digest_from_cid(s) == hashlib.sha256(data).digest()
    assert parse_cid(s) == _slow(s)


_B32 = "abcdefghijklmnopqrstuvwxyz234567"


@given(
    st.binary(min_size=32, max_size=32),
    st.integers(min_value=0, max_value=58),
    st.sampled_from(list(_B32 + "ABZ0189=_ \n")),
)
def test_any_one_character_change_gives_the_same_answer_on_both_paths(
    digest: bytes, pos: int, ch: str
) -> None:
    s = cid_from_digest(digest)
    mutated = s[:pos] + ch + s[pos + 1 :]
    fast = cidmod._fast_digest(mutated)
    try:
        slow: ParsedCid | None = _slow(mutated)
    except InputError:
        slow = None
    if fast is not None:
        # accepted by the fast path only when it is the canonical form of what it decodes to
        assert mutated == cid_from_digest(fast)
        assert slow == ParsedCid(1, "raw", 0x12, fast)
    # the public functions agree with multiformats whichever path they take
    if slow is None:
        with pytest.raises(InputError):
            parse_cid(mutated)
    else:
        assert parse_cid(mutated) == slow


@given(st.binary(min_size=32, max_size=32), st.sampled_from([0, 1, 2, 3]))
def test_nonzero_padding_bits_are_not_taken_by_the_fast_path(digest: bytes, bits: int) -> None:
    s = cid_from_digest(digest)
    # the last base32 character carries 3 data bits and 2 padding bits (36 bytes = 288 bits)
    last = _B32.index(s[-1])
    assert last & 3 == 0
    mutated = s[:-1] + _B32[last | bits]
    if bits:
        assert cidmod._fast_digest(mutated) is None


def test_other_forms_take_the_general_path_and_agree() -> None:
    digest = hashlib.sha256(b"forms").digest()
    v1 = cid_from_digest(digest)
    c = CID.decode(v1)
    forms = [
        c.set(base="base58btc").encode(),
        c.set(base="base32upper").encode(),
        c.set(base="base16").encode(),
        " " + v1 + "\n",
    ]
    for f in forms:
        assert cidmod._fast_digest(f) is None
        assert parse_cid(f) == parse_cid(v1) and same_cid(f, v1)
        assert digest_from_cid(f) == digest
    for other in (
        str(CID("base32", 1, "dag-pb", ("sha2-256", digest))),
        str(CID("base32", 1, "raw", ("sha2-512", digest * 2))),
    ):
        assert cidmod._fast_digest(other) is None
        with pytest.raises(InputError) as info:
            digest_from_cid(other)
        assert info.value.code == "unsupported_cid"


@pytest.mark.parametrize("bad", [None, 42, b"bafkrei", "bafkrei" + "!" * 52, "bafkrei" + "a" * 53])
def test_fast_path_refuses_non_canonical_input(bad: object) -> None:
    assert cidmod._fast_digest(bad) is None

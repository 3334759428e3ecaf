"""Merkle tree: byte-identical to @openzeppelin/merkle-tree (called through node), and sound."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from registry.core.merkle import (
    MerkleTree,
    MultiProof,
    keccak256,
    leaf_hash,
    node_hash,
    process_multiproof,
    verify_multiproof,
    verify_proof,
)
from registry.errors import InputError

VECTORS = Path(__file__).with_name("vectors") / "merkle_vectors.json"


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def _digests(n: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    return [rnd.randbytes(32) for _ in range(n)]


def test_keccak_is_ethereum_keccak() -> None:
    # keccak256("") from the Ethereum yellow paper (not SHA3-256, which is a7ffc6f8…)
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_leaf_is_double_keccak() -> None:
    d = bytes(range(32))
    assert leaf_hash(d) == keccak256(keccak256(d))
    assert node_hash(b"\x01" * 32, b"\x00" * 32) == keccak256(b"\x00" * 32 + b"\x01" * 32)


# -- oracle -----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 17, 1000])
def test_matches_openzeppelin(oz: Any, n: int) -> None:
    ds = _digests(n, seed=n)
    rnd = random.Random(1000 + n)
    multi: list[list[int]] = [[], list(range(n))]
    for k in {1, min(2, n), min(3, n), max(1, n // 2)}:
        multi.append(rnd.sample(range(n), k))
    t = MerkleTree.build(ds)
    proofs = t.all_proofs()
    check = [{"root": hx(t.root), "digest": hx(d), "proof": [hx(p) for p in pr]}
             for d, pr in zip(ds, proofs, strict=True)]
    out = oz(ds, multi, check)
    assert hx(t.root) == out["root"]
    assert t.dump()["tree"] == out["tree"]
    assert [[hx(p) for p in pr] for pr in proofs] == out["proofs"]
    assert [[hx(p) for p in t.proof(i)] for i in range(n)] == out["proofs"]
    assert all(out["verified"]) and len(out["verified"]) == n
    for ix, expected in zip(multi, out["multi"], strict=True):
        mp = t.multiproof(ix)
        assert mp.to_json() == expected
        assert verify_multiproof(t.root, mp)


def test_matches_openzeppelin_with_repeated_digests(oz: Any) -> None:
    base = _digests(6, seed=7)
    ds = [base[0], base[1], base[0], base[2], base[3], base[1], base[4], base[5], base[0]]
    t = MerkleTree.build(ds)
    out = oz(ds, [[0, 1], [2, 5, 7]])
    assert hx(t.root) == out["root"]
    assert t.dump()["tree"] == out["tree"]
    assert [[hx(p) for p in pr] for pr in t.all_proofs()] == out["proofs"]
    assert [t.multiproof([0, 1]).to_json(), t.multiproof([2, 5, 7]).to_json()] == out["multi"]
    # proof_for picks the last occurrence, like OpenZeppelin's leaf lookup
    assert t.index_of(base[0]) == 8
    assert verify_proof(t.root, base[0], t.proof_for(base[0]))


def test_vectors_against_both_implementations(oz: Any) -> None:
    data = json.loads(VECTORS.read_text())
    ds = [bytes.fromhex(d[2:]) for d in data["tree_digests"]]
    vectors = data["vectors"]
    assert sum(not v["valid"] for v in vectors) >= 15
    for v in vectors:
        ours = verify_proof(bytes.fromhex(v["root"][2:]), bytes.fromhex(v["digest"][2:]),
                            [bytes.fromhex(p[2:]) for p in v["proof"]])
        assert ours is v["valid"], v["name"]
    well_formed = [v for v in vectors if not v["malformed"]]
    out = oz(ds, [], [{k: v[k] for k in ("root", "digest", "proof")} for v in well_formed])
    assert out["verified"] == [v["valid"] for v in well_formed]
    # the committed tree still has the committed root
    assert hx(MerkleTree.build(ds).root) == vectors[0]["root"]


# -- structure and errors -------------------------------------------------------------------

def test_single_leaf() -> None:
    d = b"\x11" * 32
    t = MerkleTree.build([d])
    assert t.root == leaf_hash(d)
    assert t.proof(0) == [] and t.all_proofs() == [[]]
    assert verify_proof(t.root, d, [])


def test_build_rejects() -> None:
    with pytest.raises(InputError) as info:
        MerkleTree.build([])
    assert info.value.code == "empty_tree"
    with pytest.raises(InputError) as info:
        MerkleTree.build([b"\x00" * 32, b"\x00" * 31])
    assert info.value.code == "invalid_leaf"
    assert "#1" in info.value.message
    t = MerkleTree.build(_digests(3, 1))
    with pytest.raises(InputError):
        t.proof(3)
    with pytest.raises(InputError) as info:
        t.proof_for(b"\x00" * 32)
    assert info.value.code == "not_in_tree"
    with pytest.raises(InputError) as info:
        t.multiproof([1, 1])
    assert info.value.code == "duplicate_index"


def test_digests_keep_input_order() -> None:
    ds = _digests(10, 3)
    t = MerkleTree.build(ds)
    assert t.digests == ds
    assert len(t) == 10
    assert sorted(t.tree[9:]) == list(reversed(t.tree[9:]))  # leaves stored sorted, back to front


def test_malformed_inputs_do_not_verify() -> None:
    t = MerkleTree.build(_digests(4, 4))
    d = t.digests[0]
    assert not verify_proof(t.root[:31], d, t.proof(0))
    assert not verify_proof(t.root, d[:31], t.proof(0))
    assert not verify_proof(t.root, d, [p + b"\x00" for p in t.proof(0)])
    mp = t.multiproof([0, 1])
    assert not verify_multiproof(t.root, MultiProof(mp.leaves, mp.proof[:-1], mp.proof_flags))
    assert not verify_multiproof(t.root, MultiProof(mp.leaves, mp.proof, [*mp.proof_flags, True]))
    assert not verify_multiproof(t.root, MultiProof(mp.leaves[:1], mp.proof, mp.proof_flags))
    with pytest.raises(InputError):
        process_multiproof([b"\x00" * 32], [], [True])


# -- properties -------------------------------------------------------------------------------

_digest_lists = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40, unique=True)


def _flip(b: bytes, bit: int) -> bytes:
    bit %= len(b) * 8
    arr = bytearray(b)
    arr[bit // 8] ^= 1 << (bit % 8)
    return bytes(arr)


@settings(max_examples=60, deadline=None)
@given(_digest_lists)
def test_every_proof_verifies(ds: list[bytes]) -> None:
    t = MerkleTree.build(ds)
    proofs = t.all_proofs()
    assert proofs == [t.proof(i) for i in range(len(ds))]
    for d, p in zip(ds, proofs, strict=True):
        assert verify_proof(t.root, d, p)
        assert t.proof_for(d) == p


@settings(max_examples=80, deadline=None)
@given(_digest_lists, st.data())
def test_any_flipped_bit_fails(ds: list[bytes], data: st.DataObject) -> None:
    t = MerkleTree.build(ds)
    i = data.draw(st.integers(0, len(ds) - 1))
    d, p = ds[i], t.proof(i)
    bit = data.draw(st.integers(0, 255))
    assert not verify_proof(t.root, _flip(d, bit), p)
    assert not verify_proof(_flip(t.root, bit), d, p)
    if p:
        k = data.draw(st.integers(0, len(p) - 1))
        assert not verify_proof(t.root, d, [*p[:k], _flip(p[k], bit), *p[k + 1:]])


@settings(max_examples=60, deadline=None)
@given(_digest_lists, st.data())
def test_wrong_length_path_fails(ds: list[bytes], data: st.DataObject) -> None:
    t = MerkleTree.build(ds)
    i = data.draw(st.integers(0, len(ds) - 1))
    p = t.proof(i)
    extra = data.draw(st.binary(min_size=32, max_size=32))
    assert not verify_proof(t.root, ds[i], [*p, extra])
    assert not verify_proof(t.root, ds[i], [extra, *p])
    if p:
        assert not verify_proof(t.root, ds[i], p[:-1])
        assert not verify_proof(t.root, ds[i], p[1:])


@settings(max_examples=60, deadline=None)
@given(_digest_lists, st.binary(min_size=32, max_size=32), st.data())
def test_proof_from_another_tree_fails(ds: list[bytes], extra: bytes, data: st.DataObject) -> None:
    assume(extra not in ds)
    t = MerkleTree.build(ds)
    other = MerkleTree.build([*ds, extra])
    i = data.draw(st.integers(0, len(ds) - 1))
    # the same digest, proven in the other tree, does not verify against this root (and back)
    assert not verify_proof(t.root, ds[i], other.proof(i))
    assert not verify_proof(other.root, ds[i], t.proof(i))
    assert not verify_proof(t.root, extra, other.proof(len(ds)))


@settings(max_examples=60, deadline=None)
@given(_digest_lists, st.data())
def test_multiproofs(ds: list[bytes], data: st.DataObject) -> None:
    t = MerkleTree.build(ds)
    idx = data.draw(st.lists(st.integers(0, len(ds) - 1), unique=True, max_size=len(ds)))
    mp = t.multiproof(idx)
    assert sorted(mp.leaves) == sorted(ds[i] for i in idx)
    assert verify_multiproof(t.root, mp)
    if mp.leaves:
        bit = data.draw(st.integers(0, 255))
        j = data.draw(st.integers(0, len(mp.leaves) - 1))
        bad = [*mp.leaves[:j], _flip(mp.leaves[j], bit), *mp.leaves[j + 1:]]
        assert not verify_multiproof(t.root, MultiProof(bad, mp.proof, mp.proof_flags))
    assert not verify_multiproof(_flip(t.root, 7), mp)


def test_pycryptodome_fallback_gives_the_same_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where safe-pysha3 is missing the module falls back to pycryptodome's keccak: same bytes."""
    import importlib.util
    import sys

    import registry.core.merkle as merkle

    monkeypatch.setitem(sys.modules, "sha3", None)  # makes `from sha3 import …` fail
    spec = importlib.util.spec_from_file_location("merkle_without_pysha3", merkle.__file__)
    assert spec is not None and spec.loader is not None
    fallback = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "merkle_without_pysha3", fallback)
    spec.loader.exec_module(fallback)
    assert fallback._keccak_256 is not merkle._keccak_256
    assert fallback.keccak256(b"") == keccak256(b"")
    ds = _digests(33, 5)
    a, b = MerkleTree.build(ds), fallback.MerkleTree.build(ds)
    assert a.tree == b.tree and a.all_proofs() == b.all_proofs()
    assert fallback.verify_proof(a.root, ds[3], a.proof(3))

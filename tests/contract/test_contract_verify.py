"""On-chain verification against OpenZeppelin's Merkle tree (the npm package is the oracle)."""

from __future__ import annotations

import pytest
from contract_world import World
from helpers import ADMIN, anchor, b32, keccak, leaf_of, oz_tree, process_proof

from registry.chain.contract import ZERO_ADDRESS
from registry.chain.tx import send

UNKNOWN_BATCH, INVALID_PROOF = 1, 2


def _flip(b: bytes, bit: int = 0) -> bytes:
    return bytes([b[0] ^ (1 << bit)]) + b[1:]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16])
def test_every_leaf_of_an_oz_tree_verifies(world: World, n: int) -> None:
    digests = [keccak(b"credential %d of %d" % (i, n)) for i in range(n)]
    tree = oz_tree(digests)
    anchor(world.reg, world.active, tree["root"], n)
    for d, p in zip(digests, tree["proofs"], strict=True):
        assert world.reg.verify(world.active.address, d, p, tree["root"]) == 0


def test_leaf_hash_matches_openzeppelin(world: World) -> None:
    digests = [keccak(b"a"), keccak(b"b"), b32(1)]
    tree = oz_tree(digests)
    for d, leaf in zip(digests, tree["leaves"], strict=True):
        assert world.reg.leaf_hash(d) == leaf == leaf_of(d)


@pytest.fixture
def anchored(world: World) -> tuple[World, list[bytes], dict]:
    digests = [b32(1000 + i) for i in range(8)]
    tree = oz_tree(digests)
    anchor(world.reg, world.active, tree["root"], 8)
    return world, digests, tree


def test_tampered_leaf_is_invalid(anchored) -> None:
    world, digests, tree = anchored
    assert (
        world.reg.verify(world.active.address, _flip(digests[3]), tree["proofs"][3], tree["root"])
        == INVALID_PROOF
    )
    assert (
        world.reg.verify(world.active.address, digests[4], tree["proofs"][3], tree["root"]) == INVALID_PROOF
    )  # another leaf's path


def test_tampered_path_is_invalid(anchored) -> None:
    world, digests, tree = anchored
    proof = list(tree["proofs"][5])
    for i in range(len(proof)):
        bad = proof.copy()
        bad[i] = _flip(bad[i], 7)
        assert world.reg.verify(world.active.address, digests[5], bad, tree["root"]) == INVALID_PROOF
    assert (
        world.reg.verify(world.active.address, digests[5], list(reversed(proof)), tree["root"])
        == INVALID_PROOF
    )


def test_wrong_length_proofs_are_invalid(anchored) -> None:
    world, digests, tree = anchored
    proof = tree["proofs"][2]
    assert len(proof) == 3
    assert world.reg.verify(world.active.address, digests[2], proof[:-1], tree["root"]) == INVALID_PROOF
    assert (
        world.reg.verify(world.active.address, digests[2], [*proof, b32(77)], tree["root"]) == INVALID_PROOF
    )
    assert world.reg.verify(world.active.address, digests[2], [], tree["root"]) == INVALID_PROOF


def test_intermediate_node_is_not_a_leaf(anchored) -> None:
    """Double hashing: an inner node presented as a digest does not verify (second preimage)."""
    world, digests, tree = anchored
    proof = tree["proofs"][0]
    inner = process_proof(leaf_of(digests[0]), proof[:1])
    assert world.reg.verify(world.active.address, inner, proof[1:], tree["root"]) == INVALID_PROOF


def test_wrong_root(anchored) -> None:
    world, digests, tree = anchored
    assert (
        world.reg.verify(world.active.address, digests[0], tree["proofs"][0], _flip(tree["root"]))
        == UNKNOWN_BATCH
    )
    # a root anchored by somebody, but not this credential's: the proof fails
    assert (
        world.reg.verify(world.active.address, digests[0], tree["proofs"][0], world.root_other)
        == UNKNOWN_BATCH
    )
    # the right root under the wrong issuer is unknown too
    assert world.reg.verify(world.other.address, digests[0], tree["proofs"][0], tree["root"]) == UNKNOWN_BATCH


def test_single_leaf_tree_has_empty_proof(world: World) -> None:
    d = b32(4242)
    tree = oz_tree([d])
    assert tree["root"] == leaf_of(d) and tree["proofs"][0] == []
    anchor(world.reg, world.active, tree["root"], 1)
    assert world.reg.verify(world.active.address, d, [], tree["root"]) == 0


def test_long_proof_built_by_hand(world: World) -> None:
    """A proof of 20 siblings (a tree of ~1M leaves) verifies: sorted-pair hashing as in MerkleProof."""
    d = b32(777)
    siblings = [keccak(b"sibling %d" % i) for i in range(20)]
    root = process_proof(leaf_of(d), siblings)
    anchor(world.reg, world.active, root, 2**20)
    assert world.reg.verify(world.active.address, d, siblings, root) == 0
    assert world.reg.verify(world.active.address, d, siblings[:19], root) == INVALID_PROOF


def test_lookup_of_unknown_batch_is_all_zero(world: World) -> None:
    look = world.reg.lookup(world.active.address, b32(0x999), b32(1))
    assert not look.exists and look.issuer == ZERO_ADDRESS
    assert (
        look.anchored_at,
        look.count,
        look.batch_revoked_at,
        look.issuer_status,
        look.credential_status,
    ) == (
        0,
        0,
        0,
        1,  # the issuer's own record is still reported
        0,
    )
    look = world.reg.lookup(world.stranger.address, b32(0x999), b32(1))
    assert (look.exists, look.issuer_status) == (False, 0)


def test_lookup_of_another_issuers_root_is_unknown(world: World) -> None:
    look = world.reg.lookup(world.active.address, world.root_other, b32(1))
    assert (look.exists, look.anchored_at, look.count) == (False, 0, 0)


def test_lookup_returns_everything_in_one_call(anchored) -> None:
    world, digests, tree = anchored
    look = world.reg.lookup(world.active.address, tree["root"], digests[0])
    info = world.reg.batch(world.active.address, tree["root"])
    assert look.exists and look.issuer == world.active.address
    assert (look.anchored_at, look.count, look.batch_revoked_at) == (info.anchored_at, 8, 0)
    assert (look.issuer_status, look.key_revoked_since, look.credential_status, look.key_revoked) == (
        1,
        0,
        0,
        False,
    )


def test_status_precedence(world: World) -> None:
    """Membership first (a revoked batch never confirms a non-member), then batch, key, credential."""
    reg, a = world.reg, world.active
    digests = [b32(5000 + i) for i in range(4)]
    tree = oz_tree(digests)
    anchor(reg, a, tree["root"], 4)
    send(reg.w3, a, reg.functions.revokeCredentials([digests[0]], "x"))
    assert reg.verify(a.address, digests[0], tree["proofs"][0], tree["root"]) == 5
    send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(a.address, 1))
    assert reg.verify(a.address, digests[0], tree["proofs"][0], tree["root"]) == 4  # key beats credential
    assert reg.verify(a.address, _flip(digests[0]), tree["proofs"][0], tree["root"]) == INVALID_PROOF


def test_batch_revocation_beats_key_revocation(world: World) -> None:
    """A batch anchored after the cut-off that the operator also revoked reads batch revoked."""
    reg, a = world.reg, world.active
    tree = oz_tree([b32(6001), b32(6002)])
    anchor(reg, a, tree["root"], 2)
    send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(a.address, 1))
    assert reg.verify(a.address, b32(6001), tree["proofs"][0], tree["root"]) == 4
    send(reg.w3, ADMIN, reg.functions.revokeBatchOf(a.address, tree["root"], "x"))
    assert reg.verify(a.address, b32(6001), tree["proofs"][0], tree["root"]) == 3
    assert reg.verify(a.address, b32(6003), tree["proofs"][0], tree["root"]) == INVALID_PROOF

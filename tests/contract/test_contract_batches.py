"""Anchoring and batch revocation: records, events, duplicate/zero roots, empty batches, gas."""

from __future__ import annotations

import pytest
from contract_world import World
from helpers import ADMIN, anchor, assert_reverts, b32, block_timestamp, events, oz_tree

from registry.chain.contract import ZERO_ADDRESS
from registry.chain.tx import send

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # a real CIDv1 raw, 59 chars


def test_anchor_records_one_batch_and_emits(world: World) -> None:
    reg, a = world.reg, world.active
    root = b32(0xBEEF)
    r = anchor(reg, a, root, 42, CID)
    info = reg.batch(a.address, root)
    assert (info.issuer, info.count, info.revoked_at, info.exists) == (a.address, 42, 0, True)
    assert info.anchored_at == block_timestamp(reg.w3, r)
    assert events(reg, r, "BatchAnchored") == [
        {"root": root, "issuer": a.address, "count": 42, "manifestCid": CID}
    ]


def test_unknown_batch_reads_as_zero(reg) -> None:
    info = reg.batch(ADMIN.address, b32(0x1234))
    assert (info.exists, info.issuer, info.anchored_at, info.count, info.revoked_at) == (
        False,
        ZERO_ADDRESS,
        0,
        0,
        0,
    )


def test_batch_of_another_issuer_reads_as_unknown(world: World) -> None:
    """Batches are scoped per issuer: the same root under another issuer is no batch at all."""
    info = world.reg.batch(world.other.address, world.root_active)
    assert (info.exists, info.issuer, info.anchored_at) == (False, ZERO_ADDRESS, 0)


def test_batch_record_fits_one_storage_slot(world: World) -> None:
    """Storage layout: _batches[issuer][root] packs anchoredAt | count | revokedAt | byManager in
    one slot; the next one stays zero, before and after a revocation."""
    from eth_abi import encode
    from web3 import Web3

    reg, a = world.reg, world.active
    root = world.root_active
    info = reg.batch(a.address, root)
    # Ownable uses slot 0, Ownable2Step slot 1; _batches is the first own variable: slot 2
    inner = Web3.keccak(encode(["address", "uint256"], [a.address, 2]))
    base = int.from_bytes(Web3.keccak(encode(["bytes32", "bytes32"], [root, inner])), "big")
    word = reg.w3.eth.get_storage_at(reg.address, base)
    assert int.from_bytes(word, "big") == (info.count << 64) | info.anchored_at
    assert int.from_bytes(reg.w3.eth.get_storage_at(reg.address, base + 1), "big") == 0
    send(reg.w3, a, reg.functions.revokeBatch(root, "x"))
    revoked_at = reg.batch(a.address, root).revoked_at
    word = reg.w3.eth.get_storage_at(reg.address, base)
    assert int.from_bytes(word, "big") == (revoked_at << 96) | (info.count << 64) | info.anchored_at
    assert int.from_bytes(reg.w3.eth.get_storage_at(reg.address, base + 1), "big") == 0


def test_anchor_zero_root_reverts(world: World) -> None:
    assert_reverts(lambda: anchor(world.reg, world.active, b"\x00" * 32, 1), "ZeroRoot")


def test_anchor_empty_batch_reverts(world: World) -> None:
    assert_reverts(lambda: anchor(world.reg, world.active, b32(0xE0), 0), "EmptyBatch")
    assert not world.reg.batch(world.active.address, b32(0xE0)).exists


def test_anchor_duplicate_root_reverts_for_the_same_issuer_only(world: World) -> None:
    reg, root = world.reg, world.root_active
    before = reg.batch(world.active.address, root)
    assert_reverts(lambda: anchor(reg, world.active, root, 9), "BatchAlreadyAnchored", root)
    assert reg.batch(world.active.address, root) == before
    # another issuer's batch with the same root is its own record; the first one is unchanged
    anchor(reg, world.other, root, 7)
    assert reg.batch(world.other.address, root).count == 7
    assert reg.batch(world.active.address, root) == before


@pytest.mark.parametrize("count", [1, 10_000, 2**32 - 1])
def test_anchor_gas_is_below_60k_whatever_the_batch_size(world: World, count: int) -> None:
    r = anchor(world.reg, world.active, b32(0x6A5 + count), count, CID)
    assert r["gasUsed"] < 60_000
    assert world.reg.batch(world.active.address, b32(0x6A5 + count)).count == count


def test_anchor_with_real_tree_verifies(world: World) -> None:
    digests = [b32(i) for i in range(1, 6)]
    tree = oz_tree(digests)
    anchor(world.reg, world.other, tree["root"], 5, CID)
    assert [
        world.reg.verify(world.other.address, d, p, tree["root"])
        for d, p in zip(digests, tree["proofs"], strict=True)
    ] == [0] * 5


def test_revoke_batch_records_and_emits(world: World) -> None:
    reg, a, root = world.reg, world.active, world.root_active
    r = send(reg.w3, a, reg.functions.revokeBatch(root, "issued by mistake"))
    assert events(reg, r, "BatchRevoked") == [
        {"root": root, "issuer": a.address, "reason": "issued by mistake"}
    ]
    info = reg.batch(a.address, root)
    assert info.revoked_at == block_timestamp(reg.w3, r)
    assert reg.lookup(a.address, root, b32(1)).batch_revoked_at == info.revoked_at


def test_revoke_batch_twice_reverts(world: World) -> None:
    reg, a, root = world.reg, world.active, world.root_active
    send(reg.w3, a, reg.functions.revokeBatch(root, "x"))
    assert_reverts(lambda: send(reg.w3, a, reg.functions.revokeBatch(root, "y")), "BatchAlreadyRevoked", root)


def test_revoke_unknown_batch_reverts(world: World) -> None:
    root = b32(0x404)
    assert_reverts(
        lambda: send(world.reg.w3, world.active, world.reg.functions.revokeBatch(root, "x")),
        "BatchNotFound",
        root,
    )


def test_revoke_batch_of_another_issuer_reverts(world: World) -> None:
    """revokeBatch only ever looks at the caller's own batches."""
    root = world.root_other
    assert_reverts(
        lambda: send(world.reg.w3, world.active, world.reg.functions.revokeBatch(root, "x")),
        "BatchNotFound",
        root,
    )
    assert_reverts(
        lambda: send(world.reg.w3, ADMIN, world.reg.functions.revokeBatch(root, "x")),
        "NotRegisteredIssuer",
        ADMIN.address,
    )
    assert world.reg.batch(world.other.address, root).revoked_at == 0


def test_suspended_issuer_can_revoke_its_own_batch(world: World) -> None:
    reg, s, root = world.reg, world.suspended, world.root_suspended
    send(reg.w3, s, reg.functions.revokeBatch(root, "suspended but responsible"))
    assert reg.batch(s.address, root).revoked_at > 0


def test_revoked_batch_fails_verification(world: World) -> None:
    digests = [b32(i) for i in range(11, 15)]
    tree = oz_tree(digests)
    anchor(world.reg, world.active, tree["root"], 4)
    send(world.reg.w3, world.active, world.reg.functions.revokeBatch(tree["root"], "x"))
    assert world.reg.verify(world.active.address, digests[2], tree["proofs"][2], tree["root"]) == 3

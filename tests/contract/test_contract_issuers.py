"""Issuer lifecycle: admission, suspension, reinstatement and key-compromise cut-off."""

from __future__ import annotations

from functools import partial

from contract_world import World
from helpers import (
    ADMIN,
    anchor,
    assert_reverts,
    b32,
    block_timestamp,
    dev_account,
    events,
    latest_timestamp,
    oz_tree,
    register_issuer,
    set_next_block_timestamp,
)

from registry.chain.tx import send

ZERO = "0x0000000000000000000000000000000000000000"


def test_register_issuer_records_and_emits(reg) -> None:
    issuer = dev_account(1)
    receipt = send(
        reg.w3, ADMIN, reg.functions.registerIssuer(issuer.address, "Uni Ä", "did:web:uni.example")
    )
    info = reg.issuer(issuer.address)
    assert (info.status, info.status_name, info.name, info.uri) == (
        1,
        "active",
        "Uni Ä",
        "did:web:uni.example",
    )
    assert info.registered_at == block_timestamp(reg.w3, receipt)
    assert info.key_revoked_since == 0
    assert events(reg, receipt, "IssuerRegistered") == [
        {"issuer": issuer.address, "name": "Uni Ä", "uri": "did:web:uni.example"}
    ]


def test_unknown_issuer_reads_as_none(reg) -> None:
    info = reg.issuer(dev_account(7).address)
    assert (info.status, info.registered_at, info.key_revoked_since, info.name, info.uri) == (0, 0, 0, "", "")


def test_register_zero_address_reverts(reg) -> None:
    assert_reverts(lambda: send(reg.w3, ADMIN, reg.functions.registerIssuer(ZERO, "x", "y")), "ZeroAddress")


def test_register_twice_reverts(world: World) -> None:
    for acct in (world.active, world.suspended):  # also when suspended: no silent re-admission
        assert_reverts(
            partial(send, world.reg.w3, ADMIN, world.reg.functions.registerIssuer(acct.address, "x", "y")),
            "IssuerAlreadyRegistered",
            acct.address,
        )


def test_suspend_and_reinstate(world: World) -> None:
    reg, a = world.reg, world.active
    r = send(reg.w3, ADMIN, reg.functions.suspendIssuer(a.address))
    assert events(reg, r, "IssuerSuspended") == [{"issuer": a.address}]
    assert reg.issuer(a.address).status == 2
    # no new anchors while suspended
    assert_reverts(lambda: anchor(reg, a, b32(0xC1)), "NotActiveIssuer", a.address)
    r = send(reg.w3, ADMIN, reg.functions.reinstateIssuer(a.address))
    assert events(reg, r, "IssuerReinstated") == [{"issuer": a.address}]
    assert reg.issuer(a.address).status == 1
    anchor(reg, a, b32(0xC1))
    assert reg.batch(a.address, b32(0xC1)).issuer == a.address


def test_suspend_errors(world: World) -> None:
    reg = world.reg
    stranger = world.stranger.address
    assert_reverts(
        lambda: send(reg.w3, ADMIN, reg.functions.suspendIssuer(stranger)), "IssuerNotRegistered", stranger
    )
    s = world.suspended.address
    assert_reverts(lambda: send(reg.w3, ADMIN, reg.functions.suspendIssuer(s)), "IssuerNotActive", s)


def test_reinstate_errors(world: World) -> None:
    reg = world.reg
    stranger = world.stranger.address
    assert_reverts(
        lambda: send(reg.w3, ADMIN, reg.functions.reinstateIssuer(stranger)), "IssuerNotRegistered", stranger
    )
    a = world.active.address
    assert_reverts(lambda: send(reg.w3, ADMIN, reg.functions.reinstateIssuer(a)), "IssuerNotSuspended", a)


def test_suspension_keeps_past_batches_valid(reg) -> None:
    issuer = dev_account(1)
    register_issuer(reg, issuer)
    digests = [b32(i) for i in range(1, 4)]
    tree = oz_tree(digests)
    anchor(reg, issuer, tree["root"], 3)
    send(reg.w3, ADMIN, reg.functions.suspendIssuer(issuer.address))
    assert reg.verify(issuer.address, digests[1], tree["proofs"][1], tree["root"]) == 0
    look = reg.lookup(issuer.address, tree["root"], digests[1])
    assert (look.issuer, look.issuer_status, look.key_revoked_since) == (issuer.address, 2, 0)


def test_revoke_key_errors(world: World) -> None:
    reg = world.reg
    stranger = world.stranger.address
    assert_reverts(
        lambda: send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(stranger, 5)),
        "IssuerNotRegistered",
        stranger,
    )
    a = world.active.address
    assert_reverts(lambda: send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(a, 0)), "InvalidSince")
    r = send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(a, 100))
    assert events(reg, r, "IssuerKeyRevoked") == [{"issuer": a, "since": 100}]
    assert_reverts(
        lambda: send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(a, 200)), "IssuerKeyAlreadyRevoked", a
    )
    assert reg.issuer(a).key_revoked_since == 100


def test_revoke_key_of_suspended_issuer(world: World) -> None:
    s = world.suspended.address
    send(world.reg.w3, ADMIN, world.reg.functions.revokeIssuerKey(s, 7))
    assert world.reg.issuer(s).key_revoked_since == 7
    # reinstating does not give the compromised key its powers back
    send(world.reg.w3, ADMIN, world.reg.functions.reinstateIssuer(s))
    assert_reverts(lambda: anchor(world.reg, world.suspended, b32(0xC7)), "NotActiveIssuer", s)


def test_revoked_key_can_do_nothing(world: World) -> None:
    reg, a = world.reg, world.active
    send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(a.address, 1))
    assert_reverts(lambda: anchor(reg, a, b32(0xC2)), "NotActiveIssuer", a.address)
    assert_reverts(
        lambda: send(reg.w3, a, reg.functions.revokeBatch(world.root_active, "x")),
        "NotRegisteredIssuer",
        a.address,
    )
    for fn in (
        reg.functions.revokeCredentials([b32(9)], "x"),
        reg.functions.suspendCredentials([b32(9)]),
        reg.functions.reinstateCredentials([b32(9)]),
    ):
        assert_reverts(partial(send, reg.w3, a, fn), "NotRegisteredIssuer", a.address)
    assert reg.credential_status(a.address, b32(9)) == 0
    assert reg.batch(a.address, world.root_active).revoked_at == 0


def test_key_compromise_cutoff_at_the_boundary_second(reg) -> None:
    """Batches anchored before `since` stay valid; at `since` and after they fail."""
    w3 = reg.w3
    issuer = dev_account(1)
    register_issuer(reg, issuer)
    trees = [oz_tree([b32(100 * k + i) for i in range(1, 4)]) for k in range(1, 4)]
    t0 = latest_timestamp(w3) + 100
    stamps = [t0 - 1, t0, t0 + 1]  # one second before, at, and after the cut-off
    for tree, ts in zip(trees, stamps, strict=True):
        set_next_block_timestamp(w3, ts)
        r = anchor(reg, issuer, tree["root"], 3)
        assert block_timestamp(w3, r) == ts
        assert reg.batch(issuer.address, tree["root"]).anchored_at == ts
    send(w3, ADMIN, reg.functions.revokeIssuerKey(issuer.address, t0))
    codes = [
        reg.verify(issuer.address, b32(100 * k + 1), trees[k - 1]["proofs"][0], trees[k - 1]["root"])
        for k in range(1, 4)
    ]
    assert codes == [0, 4, 4]
    before = reg.lookup(issuer.address, trees[0]["root"], b32(101))
    at = reg.lookup(issuer.address, trees[1]["root"], b32(201))
    assert (before.key_revoked_since, before.key_revoked) == (t0, False)
    assert (at.key_revoked_since, at.key_revoked) == (t0, True)


def test_key_cutoff_in_the_future_keeps_current_batches(reg) -> None:
    issuer = dev_account(1)
    register_issuer(reg, issuer)
    tree = oz_tree([b32(1), b32(2)])
    r = anchor(reg, issuer, tree["root"], 2)
    ts = block_timestamp(reg.w3, r)
    send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(issuer.address, ts + 1))
    assert reg.verify(issuer.address, b32(1), tree["proofs"][0], tree["root"]) == 0

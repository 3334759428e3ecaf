"""Per-credential revocation (irreversible) and suspension (reversible), in bulk, issuer-scoped."""

from __future__ import annotations

from functools import partial

from contract_world import World
from helpers import anchor, assert_reverts, b32, events, oz_tree

from registry.chain.tx import send

D1, D2, D3 = b32(0xD1), b32(0xD2), b32(0xD3)
ZERO = b"\x00" * 32


def _status(world: World, *digests: bytes) -> list[int]:
    return [world.reg.credential_status(world.active.address, d) for d in digests]


def test_revoke_credentials_bulk_with_events(world: World) -> None:
    reg, a = world.reg, world.active
    r = send(reg.w3, a, reg.functions.revokeCredentials([D1, D2], "fraud"))
    assert events(reg, r, "CredentialRevoked") == [
        {"issuer": a.address, "digest": D1, "reason": "fraud"},
        {"issuer": a.address, "digest": D2, "reason": "fraud"},
    ]
    assert _status(world, D1, D2, D3) == [1, 1, 0]


def test_revoking_again_is_skipped_without_event(world: World) -> None:
    reg, a = world.reg, world.active
    send(reg.w3, a, reg.functions.revokeCredentials([D1], "x"))
    r = send(reg.w3, a, reg.functions.revokeCredentials([D1, D2, D2], "y"))
    assert [e["digest"] for e in events(reg, r, "CredentialRevoked")] == [D2]
    assert _status(world, D1, D2) == [1, 1]


def test_credential_ops_reject_empty_lists(world: World) -> None:
    reg, a = world.reg, world.active
    for fn in (
        reg.functions.revokeCredentials([], "x"),
        reg.functions.suspendCredentials([]),
        reg.functions.reinstateCredentials([]),
    ):
        assert_reverts(partial(send, reg.w3, a, fn), "EmptyList")


def test_credential_ops_reject_zero_digest_atomically(world: World) -> None:
    reg, a = world.reg, world.active
    send(reg.w3, a, reg.functions.suspendCredentials([D3]))
    for fn in (
        reg.functions.revokeCredentials([D1, ZERO], "x"),
        reg.functions.suspendCredentials([D1, ZERO]),
        reg.functions.reinstateCredentials([D3, ZERO]),
    ):
        assert_reverts(partial(send, reg.w3, a, fn), "ZeroDigest")
    assert _status(world, D1, D3) == [0, 2]  # nothing of the reverted calls stuck


def test_suspend_and_reinstate_with_events(world: World) -> None:
    reg, a = world.reg, world.active
    r = send(reg.w3, a, reg.functions.suspendCredentials([D1, D2]))
    assert events(reg, r, "CredentialSuspended") == [
        {"issuer": a.address, "digest": D1},
        {"issuer": a.address, "digest": D2},
    ]
    assert _status(world, D1, D2) == [2, 2]
    # suspending a suspended one is skipped
    r = send(reg.w3, a, reg.functions.suspendCredentials([D1, D3]))
    assert [e["digest"] for e in events(reg, r, "CredentialSuspended")] == [D3]
    r = send(reg.w3, a, reg.functions.reinstateCredentials([D1, D2]))
    assert events(reg, r, "CredentialReinstated") == [
        {"issuer": a.address, "digest": D1},
        {"issuer": a.address, "digest": D2},
    ]
    assert _status(world, D1, D2, D3) == [0, 0, 2]


def test_reinstating_a_non_suspended_credential_is_skipped(world: World) -> None:
    reg, a = world.reg, world.active
    r = send(reg.w3, a, reg.functions.reinstateCredentials([D1]))
    assert events(reg, r, "CredentialReinstated") == []
    assert _status(world, D1) == [0]


def test_revocation_is_irreversible(world: World) -> None:
    reg, a = world.reg, world.active
    send(reg.w3, a, reg.functions.revokeCredentials([D1], "x"))
    assert_reverts(
        lambda: send(reg.w3, a, reg.functions.suspendCredentials([D2, D1])), "CredentialAlreadyRevoked", D1
    )
    assert_reverts(
        lambda: send(reg.w3, a, reg.functions.reinstateCredentials([D1])), "CredentialAlreadyRevoked", D1
    )
    assert _status(world, D1, D2) == [1, 0]


def test_a_suspended_credential_can_be_revoked(world: World) -> None:
    reg, a = world.reg, world.active
    send(reg.w3, a, reg.functions.suspendCredentials([D1]))
    send(reg.w3, a, reg.functions.revokeCredentials([D1], "confirmed"))
    assert _status(world, D1) == [1]


def test_scope_is_the_callers_own_credentials(world: World) -> None:
    """Another issuer revoking the same digest does not touch the active issuer's credential."""
    digests = [b32(i) for i in range(21, 24)]
    tree = oz_tree(digests)
    anchor(world.reg, world.active, tree["root"], 3)
    send(world.reg.w3, world.other, world.reg.functions.revokeCredentials([digests[0]], "not mine"))
    assert world.reg.credential_status(world.other.address, digests[0]) == 1
    assert world.reg.credential_status(world.active.address, digests[0]) == 0
    assert world.reg.verify(world.active.address, digests[0], tree["proofs"][0], tree["root"]) == 0


def test_verify_reports_revoked_and_suspended_credentials(world: World) -> None:
    reg, a = world.reg, world.active
    digests = [b32(i) for i in range(31, 35)]
    tree = oz_tree(digests)
    anchor(reg, a, tree["root"], 4)
    send(reg.w3, a, reg.functions.revokeCredentials([digests[0]], "x"))
    send(reg.w3, a, reg.functions.suspendCredentials([digests[1]]))
    codes = [reg.verify(a.address, d, p, tree["root"]) for d, p in zip(digests, tree["proofs"], strict=True)]
    assert codes == [5, 6, 0, 0]
    look = reg.lookup(a.address, tree["root"], digests[1])
    assert (look.credential_status, look.issuer, look.count) == (2, a.address, 4)
    send(reg.w3, a, reg.functions.reinstateCredentials([digests[1]]))
    assert reg.verify(a.address, digests[1], tree["proofs"][1], tree["root"]) == 0

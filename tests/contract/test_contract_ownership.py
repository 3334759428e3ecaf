"""Two-step ownership transfer (OpenZeppelin Ownable2Step)."""

from __future__ import annotations

from contract_world import World
from helpers import ADMIN, assert_reverts, events

from registry.chain.contract import ZERO_ADDRESS
from registry.chain.tx import send


def test_two_step_transfer(world: World) -> None:
    reg, new = world.reg, world.newcomer
    r = send(reg.w3, ADMIN, reg.functions.transferOwnership(new.address))
    assert events(reg, r, "OwnershipTransferStarted") == [
        {"previousOwner": ADMIN.address, "newOwner": new.address}
    ]
    # nothing changes until the new owner accepts
    assert (reg.owner(), reg.pending_owner()) == (ADMIN.address, new.address)
    send(reg.w3, ADMIN, reg.functions.registerIssuer(world.stranger.address, "still admin", ""))
    # only the pending owner can accept
    assert_reverts(
        lambda: send(reg.w3, world.stranger, reg.functions.acceptOwnership()),
        "OwnableUnauthorizedAccount",
        world.stranger.address,
    )
    r = send(reg.w3, new, reg.functions.acceptOwnership())
    assert events(reg, r, "OwnershipTransferred") == [
        {"previousOwner": ADMIN.address, "newOwner": new.address}
    ]
    assert (reg.owner(), reg.pending_owner()) == (new.address, ZERO_ADDRESS)
    # the old admin lost its powers, the new one has them
    assert_reverts(
        lambda: send(reg.w3, ADMIN, reg.functions.suspendIssuer(world.active.address)),
        "OwnableUnauthorizedAccount",
        ADMIN.address,
    )
    send(reg.w3, new, reg.functions.suspendIssuer(world.active.address))
    assert reg.issuer(world.active.address).status == 2


def test_a_second_transfer_replaces_the_pending_one(world: World) -> None:
    reg = world.reg
    send(reg.w3, ADMIN, reg.functions.transferOwnership(world.newcomer.address))
    send(reg.w3, ADMIN, reg.functions.transferOwnership(world.stranger.address))
    assert reg.pending_owner() == world.stranger.address
    assert_reverts(
        lambda: send(reg.w3, world.newcomer, reg.functions.acceptOwnership()),
        "OwnableUnauthorizedAccount",
        world.newcomer.address,
    )
    send(reg.w3, world.stranger, reg.functions.acceptOwnership())
    assert reg.owner() == world.stranger.address


def test_transfer_can_be_cancelled_with_zero_address(world: World) -> None:
    reg = world.reg
    send(reg.w3, ADMIN, reg.functions.transferOwnership(world.newcomer.address))
    send(reg.w3, ADMIN, reg.functions.transferOwnership(ZERO_ADDRESS))
    assert reg.pending_owner() == ZERO_ADDRESS
    assert_reverts(
        lambda: send(reg.w3, world.newcomer, reg.functions.acceptOwnership()),
        "OwnableUnauthorizedAccount",
        world.newcomer.address,
    )
    assert reg.owner() == ADMIN.address

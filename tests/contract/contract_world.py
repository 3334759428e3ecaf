"""Contract-test world: private chains with a populated registry and a snapshot to go back to."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from helpers import (
    ADMIN,
    anchor,
    b32,
    block_timestamp,
    deploy,
    dev_account,
    register_issuer,
    revert,
    snapshot,
)
from web3 import Web3

from registry.chain.contract import RegistryContract
from registry.chain.tx import send


@dataclass
class World:
    """A registry with an active issuer, a suspended one, another active one, an issuer whose key
    was cut off (``revoked``) with its named successor (``manager``), and a stranger."""

    reg: RegistryContract
    admin: LocalAccount
    active: LocalAccount
    suspended: LocalAccount
    other: LocalAccount
    stranger: LocalAccount
    newcomer: LocalAccount
    revoked: LocalAccount
    manager: LocalAccount
    root_active: bytes
    root_suspended: bytes
    root_other: bytes
    root_revoked: bytes

    def role(self, name: str) -> LocalAccount:
        """The account playing ``name``."""
        return getattr(self, name)  # type: ignore[no-any-return]


def _build_world(w3: Web3) -> World:
    w = World(
        reg=deploy(w3, ADMIN),
        admin=ADMIN,
        active=dev_account(1),
        suspended=dev_account(2),
        other=dev_account(3),
        stranger=dev_account(4),
        newcomer=dev_account(5),
        revoked=dev_account(6),
        manager=dev_account(7),
        root_active=b32(0xA1),
        root_suspended=b32(0xA2),
        root_other=b32(0xA3),
        root_revoked=b32(0xA4),
    )
    for acct in (w.active, w.suspended, w.other, w.revoked):
        register_issuer(w.reg, acct)
    anchor(w.reg, w.active, w.root_active, 3)
    anchor(w.reg, w.suspended, w.root_suspended, 3)
    anchor(w.reg, w.other, w.root_other, 3)
    r = anchor(w.reg, w.revoked, w.root_revoked, 3)
    send(w3, ADMIN, w.reg.functions.suspendIssuer(w.suspended.address))
    # the key of `revoked` is cut off one second after its batch: the batch stays valid
    since = block_timestamp(w3, r) + 1
    send(w3, ADMIN, w.reg.functions.revokeIssuerKey(w.revoked.address, since))
    send(w3, ADMIN, w.reg.functions.setIssuerManager(w.revoked.address, w.manager.address))
    return w


class Chain:
    """A private chain for the contract tests with a base state to go back to."""

    def __init__(self, name: str, w3: Web3) -> None:
        self.name = name
        self.w3 = w3
        self.empty = deploy(w3, ADMIN)  # a registry with nothing in it
        self.world = _build_world(w3)
        self._snap = snapshot(w3)

    def reset(self) -> None:
        """Back to the base state."""
        self._snap = revert(self.w3, self._snap)

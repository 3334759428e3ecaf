"""Permission matrix: each state-changing function x admin, active issuer, suspended issuer,
another issuer, an issuer whose key was cut off, the manager named for it, and a stranger, on
eth-tester and on anvil.

Every cell checks the outcome (success or the exact custom error with its arguments) and that the
state changed only when the call was allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from contract_world import World
from eth_account.signers.local import LocalAccount
from helpers import assert_reverts, b32

from registry.chain.contract import ZERO_ADDRESS
from registry.chain.tx import send

ROLES = ["admin", "active", "suspended", "other", "revoked", "manager", "stranger"]
ISSUERS = ("active", "suspended", "other", "revoked")  # registered issuers (any state)
DIGEST = b32(0xD1)
NEW_ROOT = b32(0xB0)


@dataclass
class Case:
    call: Callable[[World], Any]  # builds the contract function call
    allowed: set[str]  # roles that may call it
    error: Callable[[World, LocalAccount], tuple[Any, ...]]  # (name, *args) when refused
    effect: Callable[[World, LocalAccount], bool]  # True when the call's effect is visible
    prepare: Callable[[World, LocalAccount], None] | None = None


def _owner_error(w: World, caller: LocalAccount) -> tuple[Any, ...]:
    return ("OwnableUnauthorizedAccount", caller.address)


def _manager_error(w: World, caller: LocalAccount) -> tuple[Any, ...]:
    return ("NotIssuerManager", w.revoked.address, caller.address)


def _key_issuer(w: World, caller: LocalAccount) -> bool:
    """True when ``caller`` is a registered issuer whose key still works."""
    return caller.address in (w.active.address, w.suspended.address, w.other.address)


def _prepare_suspended_digest(w: World, caller: LocalAccount) -> None:
    # every working issuer key suspends DIGEST in its own scope first, so reinstating has work
    if _key_issuer(w, caller):
        send(w.reg.w3, caller, w.reg.functions.suspendCredentials([DIGEST]))


def _prepare_managed_suspension(w: World, caller: LocalAccount) -> None:
    # the owner suspends DIGEST of the key-revoked issuer, so reinstating it has work
    send(w.reg.w3, w.admin, w.reg.functions.suspendCredentialsOf(w.revoked.address, [DIGEST]))


def _revoke_batch_error(w: World, caller: LocalAccount) -> tuple[Any, ...]:
    if _key_issuer(w, caller):  # a working issuer key that has no such batch of its own
        return ("BatchNotFound", w.root_active)
    return ("NotRegisteredIssuer", caller.address)


CASES: dict[str, Case] = {
    "registerIssuer": Case(
        call=lambda w: w.reg.functions.registerIssuer(w.newcomer.address, "New", "https://new.example"),
        allowed={"admin"},
        error=_owner_error,
        effect=lambda w, c: w.reg.issuer(w.newcomer.address).status == 1,
    ),
    "suspendIssuer": Case(
        call=lambda w: w.reg.functions.suspendIssuer(w.active.address),
        allowed={"admin"},
        error=_owner_error,
        effect=lambda w, c: w.reg.issuer(w.active.address).status == 2,
    ),
    "reinstateIssuer": Case(
        call=lambda w: w.reg.functions.reinstateIssuer(w.suspended.address),
        allowed={"admin"},
        error=_owner_error,
        effect=lambda w, c: w.reg.issuer(w.suspended.address).status == 1,
    ),
    "revokeIssuerKey": Case(
        call=lambda w: w.reg.functions.revokeIssuerKey(w.active.address, 12345),
        allowed={"admin"},
        error=_owner_error,
        effect=lambda w, c: w.reg.issuer(w.active.address).key_revoked_since == 12345,
    ),
    "setIssuerManager": Case(
        call=lambda w: w.reg.functions.setIssuerManager(w.revoked.address, w.newcomer.address),
        allowed={"admin"},
        error=_owner_error,
        effect=lambda w, c: w.reg.issuer_manager(w.revoked.address) == w.newcomer.address,
    ),
    "transferOwnership": Case(
        call=lambda w: w.reg.functions.transferOwnership(w.newcomer.address),
        allowed={"admin"},
        error=_owner_error,
        effect=lambda w, c: w.reg.pending_owner() == w.newcomer.address,
    ),
    "renounceOwnership": Case(
        call=lambda w: w.reg.functions.renounceOwnership(),
        allowed={"admin"},
        error=_owner_error,
        effect=lambda w, c: w.reg.owner() == ZERO_ADDRESS,
    ),
    "anchor": Case(
        call=lambda w: w.reg.functions.anchor(NEW_ROOT, 5, "bafkreinew"),
        allowed={"active", "other"},
        error=lambda w, c: ("NotActiveIssuer", c.address),
        effect=lambda w, c: w.reg.batch(c.address, NEW_ROOT).issuer == c.address,
    ),
    "revokeBatch": Case(
        call=lambda w: w.reg.functions.revokeBatch(w.root_active, "mistake"),
        allowed={"active"},
        error=_revoke_batch_error,
        effect=lambda w, c: w.reg.batch(w.active.address, w.root_active).revoked_at != 0,
    ),
    "revokeCredentials": Case(
        call=lambda w: w.reg.functions.revokeCredentials([DIGEST], "fraud"),
        allowed={"active", "suspended", "other"},
        error=lambda w, c: ("NotRegisteredIssuer", c.address),
        effect=lambda w, c: w.reg.credential_status(c.address, DIGEST) == 1,
    ),
    "suspendCredentials": Case(
        call=lambda w: w.reg.functions.suspendCredentials([DIGEST]),
        allowed={"active", "suspended", "other"},
        error=lambda w, c: ("NotRegisteredIssuer", c.address),
        effect=lambda w, c: w.reg.credential_status(c.address, DIGEST) == 2,
    ),
    "reinstateCredentials": Case(
        call=lambda w: w.reg.functions.reinstateCredentials([DIGEST]),
        allowed={"active", "suspended", "other"},
        error=lambda w, c: ("NotRegisteredIssuer", c.address),
        effect=lambda w, c: (
            w.reg.credential_status(c.address, DIGEST) == 0
            and w.reg.credential_status(w.active.address, DIGEST) in (0, 2)
        ),
        prepare=_prepare_suspended_digest,
    ),
    "revokeBatchOf": Case(
        call=lambda w: w.reg.functions.revokeBatchOf(w.revoked.address, w.root_revoked, "compromised"),
        allowed={"admin", "manager"},
        error=_manager_error,
        effect=lambda w, c: w.reg.batch(w.revoked.address, w.root_revoked).revoked_at != 0,
    ),
    "revokeCredentialsOf": Case(
        call=lambda w: w.reg.functions.revokeCredentialsOf(w.revoked.address, [DIGEST], "fraud"),
        allowed={"admin", "manager"},
        error=_manager_error,
        effect=lambda w, c: w.reg.credential_status(w.revoked.address, DIGEST) == 1,
    ),
    "suspendCredentialsOf": Case(
        call=lambda w: w.reg.functions.suspendCredentialsOf(w.revoked.address, [DIGEST]),
        allowed={"admin", "manager"},
        error=_manager_error,
        effect=lambda w, c: w.reg.credential_status(w.revoked.address, DIGEST) == 2,
    ),
    "reinstateCredentialsOf": Case(
        call=lambda w: w.reg.functions.reinstateCredentialsOf(w.revoked.address, [DIGEST]),
        allowed={"admin", "manager"},
        error=_manager_error,
        effect=lambda w, c: w.reg.credential_status(w.revoked.address, DIGEST) == 0,
        prepare=_prepare_managed_suspension,
    ),
}


def _credential_scope_untouched(w: World, caller: LocalAccount, name: str) -> None:
    """Credential operations write only the scope they name."""
    if name in ("revokeCredentials", "suspendCredentials"):
        for role in ISSUERS:
            acct = w.role(role)
            if acct.address != caller.address:
                assert w.reg.credential_status(acct.address, DIGEST) == 0
    if name in ("revokeCredentialsOf", "suspendCredentialsOf"):
        for role in ROLES:
            if role != "revoked":
                assert w.reg.credential_status(w.role(role).address, DIGEST) == 0


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
def test_permission_matrix(world: World, name: str, role: str) -> None:
    case = CASES[name]
    caller = world.role(role)
    if case.prepare:
        case.prepare(world, caller)
    if role in case.allowed:
        receipt = send(world.reg.w3, caller, case.call(world))
        assert receipt["status"] == 1
        assert case.effect(world, caller)
        _credential_scope_untouched(world, caller, name)
    else:
        err = case.error(world, caller)
        assert_reverts(lambda: send(world.reg.w3, caller, case.call(world)), err[0], *err[1:])
        if name == "reinstateCredentials":
            return  # nothing was suspended in a refused caller's scope; its state stays 0 anyway
        assert not case.effect(world, caller)


def test_the_matrix_covers_every_state_changing_function(world: World) -> None:
    """A new non-view function of the ABI must get its row in the matrix."""
    from registry.chain.artifact import load_artifact

    writes = {
        e["name"]
        for e in load_artifact().abi
        if e["type"] == "function" and e["stateMutability"] not in ("view", "pure")
    }
    assert writes - {"acceptOwnership"} == set(CASES)


def test_acceptownership_without_pending_transfer_refused_for_everyone(world: World) -> None:
    def accept(caller: LocalAccount) -> Callable[[], object]:
        return lambda: send(world.reg.w3, caller, world.reg.functions.acceptOwnership())

    for role in ROLES:
        caller = world.role(role)
        assert_reverts(accept(caller), "OwnableUnauthorizedAccount", caller.address)
    assert world.reg.owner() == world.admin.address


@pytest.mark.parametrize(
    "name", ["revokeBatchOf", "revokeCredentialsOf", "suspendCredentialsOf", "reinstateCredentialsOf"]
)
def test_managing_an_issuer_whose_key_works_is_refused_even_for_the_owner(world: World, name: str) -> None:
    """Owner and managers only step in after a key cut-off; a working key manages its own."""
    fns = world.reg.functions
    a = world.active.address
    call = {
        "revokeBatchOf": lambda: fns.revokeBatchOf(a, world.root_active, "x"),
        "revokeCredentialsOf": lambda: fns.revokeCredentialsOf(a, [DIGEST], "x"),
        "suspendCredentialsOf": lambda: fns.suspendCredentialsOf(a, [DIGEST]),
        "reinstateCredentialsOf": lambda: fns.reinstateCredentialsOf(a, [DIGEST]),
    }[name]
    assert_reverts(lambda: send(world.reg.w3, world.admin, call()), "IssuerKeyNotRevoked", a)
    # the manager of another issuer is nobody here
    assert_reverts(
        lambda: send(world.reg.w3, world.manager, call()), "NotIssuerManager", a, world.manager.address
    )
    assert world.reg.batch(a, world.root_active).revoked_at == 0
    assert world.reg.credential_status(a, DIGEST) == 0

"""Issue 10, items 3 and 7 on chain: root squatting, and status changes made with a stolen key.

(a) Root squatting: batches are scoped per issuer, so another issuer who anchors a pending root
first changes nothing for its real issuer.
(b) After `revokeIssuerKey(issuer, since)`, every status change the issuer key made at or after
`since` is ignored by verify, lookup, credentialStatus and batch (at the boundary second too);
changes before `since` stand; the owner and the manager it names manage the issuer afterwards and
their changes always count.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from contract_world import World
from eth_account.signers.local import LocalAccount
from helpers import (
    ADMIN,
    anchor,
    assert_reverts,
    b32,
    events,
    latest_timestamp,
    oz_tree,
    set_next_block_timestamp,
)

from registry.chain.contract import ZERO_ADDRESS
from registry.chain.tx import send

VALID, UNKNOWN, BATCH_REVOKED, KEY_REVOKED, REVOKED, SUSPENDED = 0, 1, 3, 4, 5, 6


# ---------------------------------------------------------------------------- (a) squatting


def test_root_squatting_changes_nothing_for_the_real_issuer(world: World) -> None:
    reg, a, b = world.reg, world.active, world.other
    digests = [b32(0x5A00 + i) for i in range(4)]
    tree = oz_tree(digests)
    root = tree["root"]
    # B copies A's pending root from the mempool and anchors it first
    r = anchor(reg, b, root, 4, "bafkrei-squatter")
    assert events(reg, r, "BatchAnchored")[0]["issuer"] == b.address
    # A's own anchor still succeeds
    r = anchor(reg, a, root, 4, "bafkrei-real")
    assert r["status"] == 1
    assert reg.batch(a.address, root).issuer == a.address
    codes = [reg.verify(a.address, d, p, root) for d, p in zip(digests, tree["proofs"], strict=True)]
    assert codes == [VALID] * 4
    # B "revokes" its copy, batch and credentials: nothing changes for A
    send(reg.w3, b, reg.functions.revokeBatch(root, "mine now"))
    send(reg.w3, b, reg.functions.revokeCredentials([digests[0]], "mine now"))
    assert reg.verify(b.address, digests[1], tree["proofs"][1], root) == BATCH_REVOKED
    assert reg.verify(a.address, digests[0], tree["proofs"][0], root) == VALID
    look = reg.lookup(a.address, root, digests[0])
    assert (look.issuer, look.batch_revoked_at, look.credential_status, look.count) == (a.address, 0, 0, 4)
    assert reg.batch(a.address, root).revoked_at == 0
    assert reg.credential_status(a.address, digests[0]) == 0


def test_a_root_anchored_only_by_a_squatter_is_unknown_for_the_real_issuer(world: World) -> None:
    tree = oz_tree([b32(0x5B01), b32(0x5B02)])
    anchor(world.reg, world.other, tree["root"], 2)
    assert world.reg.verify(world.active.address, b32(0x5B01), tree["proofs"][0], tree["root"]) == UNKNOWN
    assert world.reg.lookup(world.active.address, tree["root"], b32(0x5B01)).issuer == ZERO_ADDRESS


# ------------------------------------------------------------------------- (b) key cut-off


def _now(w3: object) -> int:
    """The latest timestamp a next block may not go below (eth-tester's pending block can be ahead)."""
    pending = int(w3.eth.get_block("pending")["timestamp"])  # type: ignore[attr-defined]
    return max(latest_timestamp(w3), pending)  # type: ignore[arg-type]


@dataclass
class Scene:
    world: World
    digests: list[bytes]
    tree: dict
    base: int
    since: int

    @property
    def issuer(self) -> LocalAccount:
        return self.world.active

    def at(self, ts: int, caller: LocalAccount, fn: object) -> None:
        """Send ``fn`` from ``caller`` in a block with timestamp ``ts``."""
        set_next_block_timestamp(self.world.reg.w3, ts)
        send(self.world.reg.w3, caller, fn)

    def cut_off(self) -> None:
        """The operator declares the key compromised since ``self.since`` (a later block)."""
        ts = max(self.since, _now(self.world.reg.w3)) + 10
        self.at(ts, ADMIN, self.world.reg.functions.revokeIssuerKey(self.issuer.address, self.since))

    def verdict(self, i: int) -> int:
        r = self.world.reg
        return r.verify(self.issuer.address, self.digests[i], self.tree["proofs"][i], self.tree["root"])

    def status(self, i: int) -> int:
        """credentialStatus, checked to agree with lookup."""
        r, a = self.world.reg, self.issuer.address
        st = r.credential_status(a, self.digests[i])
        assert r.lookup(a, self.tree["root"], self.digests[i]).credential_status == st
        return st


@pytest.fixture
def scene(world: World) -> Scene:
    """The active issuer's batch of 4, anchored 50 s before the future cut-off second."""
    reg, a = world.reg, world.active
    base = _now(reg.w3) + 10
    digests = [b32(0xC0DE00 + i) for i in range(4)]
    tree = oz_tree(digests)
    set_next_block_timestamp(reg.w3, base)
    anchor(reg, a, tree["root"], 4)
    return Scene(world, digests, tree, base, base + 50)


OFFSETS = [-1, 0, 1]  # the key's change one second before, at, and one second after `since`


@pytest.mark.parametrize("offset", OFFSETS)
def test_thiefs_revocation_after_the_cutoff_is_ignored(scene: Scene, offset: int) -> None:
    fns = scene.world.reg.functions
    scene.at(scene.since + offset, scene.issuer, fns.revokeCredentials([scene.digests[0]], "thief"))
    assert (scene.status(0), scene.verdict(0)) == (1, REVOKED)  # it stood until the cut-off
    scene.cut_off()
    counts = offset < 0
    assert (scene.status(0), scene.verdict(0)) == ((1, REVOKED) if counts else (0, VALID))


@pytest.mark.parametrize("offset", OFFSETS)
def test_thiefs_suspension_after_the_cutoff_is_ignored(scene: Scene, offset: int) -> None:
    fns = scene.world.reg.functions
    scene.at(scene.since + offset, scene.issuer, fns.suspendCredentials([scene.digests[1]]))
    assert scene.verdict(1) == SUSPENDED
    scene.cut_off()
    counts = offset < 0
    assert (scene.status(1), scene.verdict(1)) == ((2, SUSPENDED) if counts else (0, VALID))


@pytest.mark.parametrize("offset", OFFSETS)
def test_thiefs_reinstatement_after_the_cutoff_is_ignored(scene: Scene, offset: int) -> None:
    fns = scene.world.reg.functions
    # the real issuer suspended the credential well before the compromise
    scene.at(scene.base + 1, scene.issuer, fns.suspendCredentials([scene.digests[2]]))
    scene.at(scene.since + offset, scene.issuer, fns.reinstateCredentials([scene.digests[2]]))
    assert scene.verdict(2) == VALID
    scene.cut_off()
    counts = offset < 0
    assert (scene.status(2), scene.verdict(2)) == ((0, VALID) if counts else (2, SUSPENDED))


@pytest.mark.parametrize("offset", OFFSETS)
def test_thiefs_batch_revocation_after_the_cutoff_is_ignored(scene: Scene, offset: int) -> None:
    reg, a, root = scene.world.reg, scene.issuer.address, scene.tree["root"]
    ts = scene.since + offset
    scene.at(ts, scene.issuer, reg.functions.revokeBatch(root, "thief"))
    assert scene.verdict(3) == BATCH_REVOKED
    scene.cut_off()
    counts = offset < 0
    assert reg.batch(a, root).revoked_at == (ts if counts else 0)
    assert reg.lookup(a, root, scene.digests[3]).batch_revoked_at == (ts if counts else 0)
    assert scene.verdict(3) == (BATCH_REVOKED if counts else VALID)


def test_several_key_changes_the_last_before_the_cutoff_counts(scene: Scene) -> None:
    fns = scene.world.reg.functions
    d = [scene.digests[0]]
    scene.at(scene.since - 30, scene.issuer, fns.suspendCredentials(d))
    scene.at(scene.since - 20, scene.issuer, fns.reinstateCredentials(d))
    scene.at(scene.since - 10, scene.issuer, fns.suspendCredentials(d))
    scene.at(scene.since + 5, scene.issuer, fns.reinstateCredentials(d))  # thief
    scene.cut_off()
    assert (scene.status(0), scene.verdict(0)) == (2, SUSPENDED)


def test_manager_and_owner_manage_after_the_cutoff_and_their_changes_count(scene: Scene) -> None:
    w = scene.world
    reg, a, fns = w.reg, scene.issuer.address, w.reg.functions
    new = w.newcomer
    # the thief revokes (irreversibly, it thinks) and reinstates a suspended one after `since`
    scene.at(scene.base + 1, scene.issuer, fns.suspendCredentials([scene.digests[1]]))
    scene.at(scene.since + 1, scene.issuer, fns.revokeCredentials([scene.digests[0]], "thief"))
    scene.at(scene.since + 2, scene.issuer, fns.reinstateCredentials([scene.digests[1]]))
    scene.cut_off()
    assert [scene.status(i) for i in range(4)] == [0, 2, 0, 0]
    # the key can do nothing any more
    assert_reverts(
        lambda: send(reg.w3, scene.issuer, fns.suspendCredentials([scene.digests[0]])),
        "NotRegisteredIssuer",
        a,
    )
    r = send(reg.w3, ADMIN, fns.setIssuerManager(a, new.address))
    assert events(reg, r, "IssuerManagerSet") == [{"issuer": a, "manager": new.address}]
    assert reg.issuer_manager(a) == new.address
    # the manager's changes count although they are made after `since`; the thief's revocation
    # is ignored, so the credential can still be suspended and reinstated
    r = send(reg.w3, new, fns.suspendCredentialsOf(a, [scene.digests[0]]))
    assert events(reg, r, "CredentialSuspended") == [{"issuer": a, "digest": scene.digests[0]}]
    assert (scene.status(0), scene.verdict(0)) == (2, SUSPENDED)
    r = send(reg.w3, new, fns.reinstateCredentialsOf(a, [scene.digests[0], scene.digests[1]]))
    assert [e["digest"] for e in events(reg, r, "CredentialReinstated")] == scene.digests[:2]
    assert [scene.verdict(i) for i in range(2)] == [VALID, VALID]
    r = send(reg.w3, new, fns.revokeCredentialsOf(a, [scene.digests[2], scene.digests[2]], "confirmed"))
    assert events(reg, r, "CredentialRevoked") == [
        {"issuer": a, "digest": scene.digests[2], "reason": "confirmed"}
    ]
    assert scene.verdict(2) == REVOKED
    assert_reverts(
        lambda: send(reg.w3, new, fns.suspendCredentialsOf(a, [scene.digests[2]])),
        "CredentialAlreadyRevoked",
        scene.digests[2],
    )
    # the owner too, and a batch revocation by the owner counts
    r = send(reg.w3, ADMIN, fns.revokeBatchOf(a, scene.tree["root"], "compromised"))
    assert events(reg, r, "BatchRevoked") == [
        {"root": scene.tree["root"], "issuer": a, "reason": "compromised"}
    ]
    assert scene.verdict(3) == BATCH_REVOKED
    assert reg.batch(a, scene.tree["root"]).revoked_at > 0
    assert_reverts(
        lambda: send(reg.w3, new, fns.revokeBatchOf(a, scene.tree["root"], "again")),
        "BatchAlreadyRevoked",
        scene.tree["root"],
    )


def test_manager_may_revoke_a_batch_the_thief_revoked_after_the_cutoff(scene: Scene) -> None:
    reg, a, root = scene.world.reg, scene.issuer.address, scene.tree["root"]
    scene.at(scene.since, scene.issuer, reg.functions.revokeBatch(root, "thief"))
    scene.cut_off()
    assert reg.batch(a, root).revoked_at == 0
    send(reg.w3, ADMIN, reg.functions.revokeBatchOf(a, root, "operator"))
    assert reg.batch(a, root).revoked_at > scene.since
    assert scene.verdict(0) == BATCH_REVOKED


def test_a_revocation_before_the_cutoff_binds_the_manager_too(scene: Scene) -> None:
    reg, a = scene.world.reg, scene.issuer.address
    fns = reg.functions
    scene.at(scene.since - 1, scene.issuer, fns.revokeCredentials([scene.digests[0]], "real"))
    scene.at(
        scene.since - 1 + 1, scene.issuer, fns.suspendCredentials([scene.digests[1]])
    )  # at since: ignored
    scene.cut_off()
    for fn in (
        fns.suspendCredentialsOf(a, [scene.digests[0]]),
        fns.reinstateCredentialsOf(a, [scene.digests[0]]),
    ):
        assert_reverts(lambda fn=fn: send(reg.w3, ADMIN, fn), "CredentialAlreadyRevoked", scene.digests[0])
    r = send(reg.w3, ADMIN, fns.revokeCredentialsOf(a, [scene.digests[0]], "again"))
    assert events(reg, r, "CredentialRevoked") == []  # already effectively revoked: skipped
    r = send(reg.w3, ADMIN, fns.reinstateCredentialsOf(a, [scene.digests[1]]))
    assert events(reg, r, "CredentialReinstated") == []  # the thief's suspension does not count
    assert [scene.status(i) for i in range(2)] == [1, 0]


def test_removing_the_manager(world: World) -> None:
    reg, x, m = world.reg, world.revoked.address, world.manager
    send(reg.w3, m, reg.functions.suspendCredentialsOf(x, [b32(0xE1)]))
    r = send(reg.w3, ADMIN, reg.functions.setIssuerManager(x, ZERO_ADDRESS))
    assert events(reg, r, "IssuerManagerSet") == [{"issuer": x, "manager": ZERO_ADDRESS}]
    assert_reverts(
        lambda: send(reg.w3, m, reg.functions.reinstateCredentialsOf(x, [b32(0xE1)])),
        "NotIssuerManager",
        x,
        m.address,
    )
    assert reg.credential_status(x, b32(0xE1)) == 2  # the manager's past change still counts


def test_set_manager_only_for_a_key_revoked_issuer(world: World) -> None:
    reg = world.reg
    for target in (world.active.address, world.stranger.address):
        assert_reverts(
            lambda t=target: send(reg.w3, ADMIN, reg.functions.setIssuerManager(t, world.manager.address)),
            "IssuerKeyNotRevoked",
            target,
        )
    assert reg.issuer_manager(world.active.address) == ZERO_ADDRESS


def test_manager_ops_check_their_input(world: World) -> None:
    reg, x = world.reg, world.revoked.address
    fns = reg.functions
    zero = b"\x00" * 32
    for fn in (
        fns.revokeCredentialsOf(x, [], "x"),
        fns.suspendCredentialsOf(x, []),
        fns.reinstateCredentialsOf(x, []),
    ):
        assert_reverts(lambda fn=fn: send(reg.w3, ADMIN, fn), "EmptyList")
    for fn in (
        fns.revokeCredentialsOf(x, [b32(1), zero], "x"),
        fns.suspendCredentialsOf(x, [zero]),
        fns.reinstateCredentialsOf(x, [zero]),
    ):
        assert_reverts(lambda fn=fn: send(reg.w3, ADMIN, fn), "ZeroDigest")
    assert_reverts(
        lambda: send(reg.w3, ADMIN, fns.revokeBatchOf(x, world.root_active, "x")),
        "BatchNotFound",
        world.root_active,
    )
    assert reg.credential_status(x, b32(1)) == 0


def test_cutoff_in_the_far_future_keeps_every_change(world: World) -> None:
    """A `since` beyond uint48 (Checkpoints keys) reads the latest key change."""
    reg, a = world.reg, world.active
    send(reg.w3, a, reg.functions.suspendCredentials([b32(0xF1)]))
    send(reg.w3, ADMIN, reg.functions.revokeIssuerKey(a.address, 2**64 - 1))
    assert reg.credential_status(a.address, b32(0xF1)) == 2

"""Issue 13 item 2: list bits derived from chain events equal the contract's views at every block.

A scenario on a real anvil covers every rule of the contract: key changes before and after the
key cut-off second (made before the cut-off event), the owner's changes after it, batch
revocations counted and ignored, a batch anchored at or after the cut-off. At every block the
derived status of every credential is compared with ``credentialStatus``, ``batch`` and
``issuer`` read at that block (nothing is hard-coded), and the blocks where a list's bits change
with the blocks where the views' answers change.
"""

from __future__ import annotations

from helpers import ADMIN, anchor, b32, dev_account, latest_timestamp, set_next_block_timestamp
from pipeline_kit import Chain
from web3 import Web3

from registry.audit.events import EventReader
from registry.chain.schema import CredentialStatus
from registry.chain.tx import send
from registry.core.status_list import Purpose, get_bit
from registry.status.allocate import Binding
from registry.status.derive import LIST_EVENTS, change_blocks, list_bits, replay

ROOTS = {name: b32(0xA000 + i) for i, name in enumerate(["r1", "r2", "r3", "r4", "r5"])}
MEMBERS = {"r1": range(0, 4), "r2": range(4, 8), "r3": range(8, 10), "r4": range(10, 12), "r5": range(12, 13)}


def _digest(i: int) -> bytes:
    return b32(0xD000 + i)


def _bindings() -> list[Binding]:
    out = [Binding(_digest(i), 0, 100 + i, 200 + i, ROOTS[r]) for r, idx in MEMBERS.items() for i in idx]
    out.append(Binding(_digest(99), 0, 199, 299, None))  # never anchored, revoked by the key
    return out


def _scenario(chain: Chain) -> int:
    """Run the scenario; returns the block before it started."""
    w3, reg, key = chain.w3, chain.registry, chain.issuer
    start = int(w3.eth.block_number)
    f = reg.functions
    for r in ("r1", "r2", "r3"):
        anchor(reg, key, ROOTS[r], len(MEMBERS[r]))
    send(w3, key, f.revokeCredentials([_digest(0), _digest(99)], "wrong grade"))
    send(w3, key, f.suspendCredentials([_digest(1), _digest(2), _digest(5)]))
    send(w3, key, f.reinstateCredentials([_digest(2)]))
    send(w3, key, f.revokeBatch(ROOTS["r3"], "printed twice"))
    t = latest_timestamp(w3)
    since = t + 100
    set_next_block_timestamp(w3, since)  # from here on the key is compromised
    send(w3, key, f.revokeCredentials([_digest(3)], "thief"))  # ignored
    send(w3, key, f.reinstateCredentials([_digest(1)]))  # ignored
    send(w3, key, f.suspendCredentials([_digest(6)]))  # ignored
    anchor(reg, key, ROOTS["r4"], 2)  # anchored at/after the cut-off: every credential in it is revoked
    send(w3, key, f.revokeBatch(ROOTS["r2"], "thief"))  # ignored
    send(w3, ADMIN, f.revokeIssuerKey(key.address, since))
    send(w3, ADMIN, f.reinstateCredentialsOf(key.address, [_digest(5)]))  # the owner: counts
    send(w3, ADMIN, f.revokeCredentialsOf(key.address, [_digest(7)], "owner"))
    send(w3, ADMIN, f.suspendCredentialsOf(key.address, [_digest(4)]))
    send(w3, ADMIN, f.revokeBatchOf(key.address, ROOTS["r2"], "owner"))
    send(w3, ADMIN, f.reinstateCredentialsOf(key.address, [_digest(4)]))
    return start


def _view_status(chain: Chain, b: Binding, block: int) -> str:
    """What ``verify()`` would say, from the contract's views at ``block``."""
    fn = chain.registry.contract.functions
    issuer = chain.issuer.address
    since = fn.issuer(issuer).call(block_identifier=block)[2]
    if b.root is not None:
        _who, anchored_at, _count, revoked_at = fn.batch(issuer, b.root).call(block_identifier=block)
        if revoked_at != 0 or (since != 0 and anchored_at != 0 and anchored_at >= since):
            return "revoked"
    code = fn.credentialStatus(issuer, b.digest).call(block_identifier=block)
    return CredentialStatus(code).word


def _events(w3: Web3, chain: Chain) -> list:
    return list(EventReader(w3, chain.registry.contract).read(0, int(w3.eth.block_number), names=LIST_EVENTS))


def test_bits_equal_the_contract_views_at_every_block(chain: Chain) -> None:
    start = _scenario(chain)
    w3 = chain.w3
    events = _events(w3, chain)
    # another issuer's events on the same digests change nothing
    other = dev_account(3)
    send(w3, ADMIN, chain.registry.functions.registerIssuer(other.address, "Other", "https://o.example"))
    send(w3, other, chain.registry.functions.revokeCredentials([_digest(1), _digest(4)], "not mine"))
    events = _events(w3, chain)
    head = int(w3.eth.block_number)

    def ts(n: int) -> int:
        return int(w3.eth.get_block(n)["timestamp"])

    bound = _bindings()
    seen_words: set[str] = set()
    view_changes: dict[Purpose, list[int]] = {Purpose.revocation: [], Purpose.suspension: []}
    previous: dict[bytes, str] = {}
    for block in range(start, head + 1):
        state = replay(events, chain.issuer.address, block, ts)
        bits = {p: list_bits(state, bound, p) for p in Purpose}
        changed = set()
        for b in bound:
            want = _view_status(chain, b, block)
            seen_words.add(want)
            got = state.list_status("0x" + b.digest.hex(), "0x" + b.root.hex() if b.root else None)
            assert got == want, f"block {block}, digest {b.digest.hex()[-4:]}: derived {got}, views {want}"
            assert get_bit(bits[Purpose.revocation], b.revocation_index) == (want == "revoked")
            assert get_bit(bits[Purpose.suspension], b.suspension_index) == (want == "suspended")
            old = previous.get(b.digest, "none")
            for p, word in ((Purpose.revocation, "revoked"), (Purpose.suspension, "suspended")):
                if (old == word) != (want == word):
                    changed.add(p)
            previous[b.digest] = want
        for p in changed:
            view_changes[p].append(block)
    assert seen_words == {"none", "revoked", "suspended"}
    final = {b.digest: previous[b.digest] for b in bound}
    assert final[_digest(3)] == "none" and final[_digest(1)] == "suspended"  # the thief's changes ignored
    assert final[_digest(10)] == "revoked"  # batch anchored after the cut-off
    assert final[_digest(4)] == "revoked"  # the owner revoked its batch
    assert final[_digest(5)] == "revoked"  # in r2, which the owner revoked ...
    last = replay(events, chain.issuer.address, head, ts)
    assert last.credential_status("0x" + _digest(5).hex()) == "none"  # ... after reinstating it
    got_changes = change_blocks(events, chain.issuer.address, bound, ts)
    assert got_changes == {(0, p): blocks for p, blocks in view_changes.items() if blocks}

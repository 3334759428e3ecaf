"""The bits of an issuer's status lists as a pure function of its chain events up to a block.

The contract's views are replayed exactly (contracts/CredentialRegistry.sol):

- ``credentialStatus(issuer, digest)``: without a key cut-off, the status the issuer key set last.
  After ``IssuerKeyRevoked(issuer, since)`` (at or before the block): the status the owner or
  manager set last if they ever acted (every status event logged after the cut-off event is
  theirs: the key can no longer act), else the key's last change made strictly before ``since``
  (block timestamp), else none.
- a batch counts as revoked when its last ``BatchRevoked`` was made by the owner or manager, or by
  the key before its cut-off (``_effectiveRevokedAt``).

A credential's list status is what ``verify()`` would answer for it: *revoked* when the credential
is effectively revoked, its batch is effectively revoked, or its batch was anchored at or after the
key cut-off (``IssuerKeyRevoked``); else *suspended* when effectively suspended; else *none*.
Revocation bit = revoked; suspension bit = suspended (:func:`registry.core.status_list.bits_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from registry.chain.schema import Event
from registry.core.status_list import LIST_SIZE, Purpose, bits_for
from registry.status.allocate import Binding

STATUS_OF_EVENT = {
    "CredentialRevoked": "revoked",
    "CredentialSuspended": "suspended",
    "CredentialReinstated": "none",
}
LIST_EVENTS = ("IssuerKeyRevoked", "BatchAnchored", "BatchRevoked", *STATUS_OF_EVENT)
"""The events a list's bits depend on (all of one issuer)."""


@dataclass
class _Credential:
    key: list[tuple[int, str, int]] = field(default_factory=list)  # (block, status, position order)
    managed: str | None = None


@dataclass
class _BatchState:
    anchored_block: int | None = None
    revoked_block: int | None = None
    revoked_by_manager: bool = False


@dataclass
class IssuerStatus:
    """The issuer's statuses at one block, as the contract's views compute them."""

    block: int
    timestamp_of: Callable[[int], int]
    since: int = 0
    credentials: dict[str, _Credential] = field(default_factory=dict)
    batches: dict[str, _BatchState] = field(default_factory=dict)
    cut_off: bool = False

    def apply(self, ev: Event) -> None:
        """Apply one event of the issuer (chain order); others are ignored."""
        self.block = max(self.block, ev.block_number)
        if ev.name == "IssuerKeyRevoked":
            if not self.cut_off:
                self.cut_off, self.since = True, int(ev.args["since"])
        elif ev.name == "BatchAnchored":
            root = str(ev.args["root"]).lower()
            self.batches.setdefault(root, _BatchState()).anchored_block = ev.block_number
        elif ev.name == "BatchRevoked":
            b = self.batches.setdefault(str(ev.args["root"]).lower(), _BatchState())
            b.revoked_block, b.revoked_by_manager = ev.block_number, self.cut_off
        elif ev.name in STATUS_OF_EVENT:
            c = self.credentials.setdefault(str(ev.args["digest"]).lower(), _Credential())
            if self.cut_off:  # the key can no longer act: the owner or the manager did
                c.managed = STATUS_OF_EVENT[ev.name]
            else:
                c.key.append((ev.block_number, STATUS_OF_EVENT[ev.name], ev.log_index))

    def credential_status(self, digest: str) -> str:
        """``credentialStatus(issuer, digest)`` at the block: ``revoked``, ``suspended`` or ``none``."""
        c = self.credentials.get(digest.lower())
        if c is None:
            return "none"
        if self.since == 0:
            return c.key[-1][1] if c.key else "none"
        if c.managed is not None:
            return c.managed
        before = [s for b, s, _ in c.key if self.timestamp_of(b) < self.since]
        return before[-1] if before else "none"

    def batch_revoked(self, root: str) -> bool:
        """The batch's effective revocation (``batch(issuer, root).revokedAt != 0``)."""
        b = self.batches.get(root.lower())
        if b is None or b.revoked_block is None:
            return False
        return b.revoked_by_manager or self.since == 0 or self.timestamp_of(b.revoked_block) < self.since

    def batch_key_revoked(self, root: str) -> bool:
        """The batch was anchored at or after the key cut-off (``verify`` says IssuerKeyRevoked)."""
        b = self.batches.get(root.lower())
        if self.since == 0 or b is None or b.anchored_block is None:
            return False
        return self.timestamp_of(b.anchored_block) >= self.since

    def list_status(self, digest: str, root: str | None) -> str:
        """The status a list publishes for one credential (see the module notes)."""
        if root is not None and (self.batch_revoked(root) or self.batch_key_revoked(root)):
            return "revoked"
        return self.credential_status(digest)


def replay(
    events: Iterable[Event], issuer: str, block: int, timestamp_of: Callable[[int], int]
) -> IssuerStatus:
    """The statuses of ``issuer`` after every event of it at or before ``block``.

    ``timestamp_of(block)`` gives a block's timestamp; it is called only when the issuer's key
    was cut off (the only case where times matter).
    """
    state = IssuerStatus(block=block, timestamp_of=timestamp_of)
    for ev in issuer_events(events, issuer, block):
        state.apply(ev)
    return state


def issuer_events(events: Iterable[Event], issuer: str, block: int | None = None) -> list[Event]:
    """The events of ``issuer`` (at or before ``block``), in chain order."""
    return sorted(
        (e for e in events if (block is None or e.block_number <= block) and _issuer_of(e) == issuer.lower()),
        key=lambda e: e.position,
    )


def _issuer_of(ev: Event) -> str:
    return str(ev.args.get("issuer", "")).lower()


def list_bits(
    state: IssuerStatus, bound: Iterable[Binding], purpose: Purpose, size: int = LIST_SIZE
) -> bytearray:
    """The bits of one list (the bindings of that list) for ``purpose`` at the state's block."""
    statuses = (
        (b.index(purpose), state.list_status("0x" + b.digest.hex(), "0x" + b.root.hex() if b.root else None))
        for b in bound
    )
    return bits_for(statuses, purpose, size)


def _bit(status: str, purpose: Purpose) -> bool:
    return status == ("revoked" if purpose is Purpose.revocation else "suspended")


def change_blocks(
    events: Iterable[Event], issuer: str, bound: Iterable[Binding], timestamp_of: Callable[[int], int]
) -> dict[tuple[int, Purpose], list[int]]:
    """For each (list number, purpose): the blocks at which at least one of its bits changed.

    Incremental: the events of one block are applied, then only the credentials they touch
    (their digest, their batch, or all of them at a key cut-off) are evaluated again.
    """
    bound = list(bound)
    by_digest = {"0x" + b.digest.hex(): b for b in bound}
    by_root: dict[str, list[Binding]] = {}
    for b in bound:
        if b.root is not None:
            by_root.setdefault("0x" + b.root.hex(), []).append(b)
    state = IssuerStatus(block=0, timestamp_of=timestamp_of)
    current = {d: "none" for d in by_digest}
    out: dict[tuple[int, Purpose], list[int]] = {}
    mine = issuer_events(events, issuer)
    i = 0
    while i < len(mine):
        block, touched = mine[i].block_number, set[str]()
        while i < len(mine) and mine[i].block_number == block:
            ev = mine[i]
            state.apply(ev)
            if ev.name == "IssuerKeyRevoked":
                touched.update(by_digest)
            elif ev.name in ("BatchAnchored", "BatchRevoked"):
                touched.update("0x" + b.digest.hex() for b in by_root.get(str(ev.args["root"]).lower(), []))
            elif str(ev.args.get("digest", "")).lower() in by_digest:
                touched.add(str(ev.args["digest"]).lower())
            i += 1
        for d in touched:
            b = by_digest[d]
            new = state.list_status(d, "0x" + b.root.hex() if b.root else None)
            for purpose in Purpose:
                if _bit(new, purpose) != _bit(current[d], purpose):
                    blocks = out.setdefault((b.list_number, purpose), [])
                    if not blocks or blocks[-1] != block:
                        blocks.append(block)
            current[d] = new
    return out

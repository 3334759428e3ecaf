"""Digest -> batches index for bare documents and bare digests.

The index follows ``BatchAnchored`` events (it listens to a :class:`ChainReader`'s follower),
reads each batch's manifest from the content store by its CID, checks that the manifest rebuilds
the anchored root and names the same registry, issuer and count, builds the batch's Merkle tree
(in the follower thread, never on a server's event loop) and maps every listed digest to every
``(contract, issuer, root)`` batch that lists it.

A bare lookup is answered by exactly one issuer's batch, never by whichever anchored last: a bare
document by the batch whose issuer's registered URI covers the document's issuer id, a bare
digest only when one issuer anchored it (or when the caller names the issuer). Anything else is a
conflict, reported with every ``(issuer, root)`` involved.

A manifest reference that can never be read (a malformed CID, one over :data:`MAX_CID_CHARS`
characters, a count over :data:`MAX_BATCH`) or a manifest over :data:`MAX_MANIFEST_BYTES` bytes
or not matching its anchor is rejected once and for all and recorded in ``rejected``; it is never
pending. A manifest that cannot be read yet (store down, not yet published) stays pending and is
retried after every sync; once it has been pending for ``pending_grace`` seconds it no longer
holds readiness back (it is reported in ``overdue``) but is still retried. The index is "caught
up" when the follower is fresh and nothing is pending within its grace period.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from registry.core.cid import parse_cid
from registry.core.formats import Manifest, format_registry, issuer_id_matches
from registry.core.merkle import MerkleTree
from registry.errors import ChainError, InputError, StoreError
from registry.verify.reader import OVERSIZED_CID, AnchorEvent, ChainEvent, ChainReader

log = logging.getLogger(__name__)

MAX_CID_CHARS = 200
"""Longest manifest CID accepted (a CIDv1 sha2-256 in base32 has 59 characters)."""
MAX_BATCH = 1_000_000
"""Most credentials a batch may hold (the pipeline's ``batch_size`` cap)."""
MAX_MANIFEST_BYTES = 72 * 1024 * 1024
"""Largest manifest read: 72 MiB (a full batch of 1,000,000 credentials is about 69 MB)."""

Key = tuple[str, str, bytes]
"""A batch: (contract, issuer, root)."""


@dataclass(frozen=True)
class IndexHit:
    """Where a digest was anchored, with the Merkle path rebuilt from the manifest."""

    anchor: AnchorEvent
    path: list[bytes]


@dataclass(frozen=True)
class Resolution:
    """How the index answers a bare lookup.

    ``outcome``: ``hit`` (``hit`` is set), ``none`` (no batch lists the digest), ``conflict``
    (several issuers could answer), ``mismatch`` (only issuers other than the one the document
    names anchored it), ``unknown_issuer`` (an anchoring issuer's URI is not known yet).
    ``anchors`` lists the latest batch of every issuer that anchored the digest.
    """

    outcome: str
    hit: IndexHit | None = None
    anchors: list[AnchorEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """One batch listing a digest: its key, the digest's leaf (input) index, the batch's anchor,
    and ``ref``, what the index that found it needs to rebuild the Merkle path."""

    key: Key
    leaf: int
    anchor: AnchorEvent
    ref: Any = None


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n] + f"… ({len(text)} characters)"


class Lookups:
    """The bare-lookup rule (module docstring) over any index: in memory here, in a database in
    :mod:`registry.index.replica`. Subclasses give :meth:`_found`, :meth:`_uri` and :meth:`_path`."""

    def _found(self, digest: bytes, allowed: set[str] | None) -> list[Place]:
        """Every batch listing ``digest`` in the ``allowed`` contracts (None: any), any order."""
        raise NotImplementedError

    def _uri(self, contract: str, issuer: str) -> str | None:
        """The registered URI of an anchoring issuer, None when not known yet."""
        raise NotImplementedError

    def _path(self, place: Place) -> list[bytes]:
        """The Merkle path of the digest at ``place``."""
        raise NotImplementedError

    def _sorted_places(self, digest: bytes, contracts: Iterable[str] | None) -> list[Place]:
        allowed = None if contracts is None else set(contracts)
        found = self._found(digest, allowed)
        return sorted(found, key=lambda p: (p.anchor.block_number, p.anchor.log_index))

    def places(self, digest: bytes, contracts: Iterable[str] | None = None) -> list[tuple[Key, int]]:
        """Every indexed (batch, leaf index) listing ``digest`` in the given contracts, oldest first."""
        return [(p.key, p.leaf) for p in self._sorted_places(digest, contracts)]

    def resolve(
        self,
        digest: bytes,
        contracts: Iterable[str] | None = None,
        *,
        claimed_issuer: str | None = None,
        issuer: str | None = None,
    ) -> Resolution:
        """The one batch that answers a bare lookup (see the module docstring for the rule)."""
        found = self._sorted_places(digest, contracts)
        if issuer is not None:
            found = [p for p in found if p.key[1] == issuer]
        latest: dict[tuple[str, str], Place] = {}
        for p in found:  # oldest first: the latest batch of each issuer wins within that issuer
            latest[(p.key[0], p.key[1])] = p
        if not latest:
            return Resolution("none")
        groups = list(latest.values())
        anchors = [p.anchor for p in groups]
        if len(groups) > 1 and claimed_issuer is not None:
            uris = [self._uri(p.key[0], p.key[1]) for p in groups]
            if any(u is None for u in uris):
                return Resolution("unknown_issuer", anchors=anchors)
            groups = [
                g for g, u in zip(groups, uris, strict=True) if issuer_id_matches(claimed_issuer, u or "")
            ]
            if not groups:
                return Resolution("mismatch", anchors=anchors)
        if len(groups) > 1:
            return Resolution("conflict", anchors=anchors)
        place = groups[0]
        return Resolution("hit", IndexHit(place.anchor, self._path(place)), anchors)

    def find(self, digest: bytes, contracts: list[str] | None = None) -> IndexHit | None:
        """The batch holding ``digest`` when exactly one issuer anchored it, else None."""
        return self.resolve(digest, contracts).hit


class DigestIndex(Lookups):
    """Maps credential digests to the anchored batches that contain them (in memory)."""

    def __init__(
        self,
        reader: ChainReader,
        store: object | None,
        *,
        pending_grace: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.store = store
        self.pending_grace = pending_grace
        self.clock = clock
        self._lock = threading.RLock()
        self.batches: dict[Key, AnchorEvent] = {}
        self.trees: dict[Key, MerkleTree] = {}
        self.digests: dict[bytes, list[tuple[Key, int]]] = {}
        self.pending: dict[Key, AnchorEvent] = {}
        self._pending_since: dict[Key, float] = {}
        self.rejected: dict[Key, str] = {}
        self.uris: dict[tuple[str, str], str] = {}
        reader.listeners.append(self.on_event)
        reader.after_poll.append(self.sync)

    @property
    def manifests(self) -> dict[Key, MerkleTree]:
        """The indexed batches (their trees)."""
        return self.trees

    # -- following ------------------------------------------------------------------------------
    def on_event(self, ev: ChainEvent) -> None:
        """Follower callback: index every ``BatchAnchored`` event."""
        if ev.name != "BatchAnchored" or ev.anchor is None:
            return
        anchor = ev.anchor
        key = (anchor.contract, anchor.issuer, anchor.root)
        if self._known(key, anchor):
            return
        why = self._reference_problem(anchor)
        if why is not None:
            self._reject(key, anchor, why)
            return
        self._mark_pending(key, anchor)
        self._load(key, anchor)

    def _known(self, key: Key, anchor: AnchorEvent) -> bool:
        """True when the batch was seen before; else remember it (its manifest is read next)."""
        with self._lock:
            if key in self.batches:
                return True
            self.batches[key] = anchor
        return False

    def _mark_pending(self, key: Key, anchor: AnchorEvent) -> None:
        """The batch's manifest is not indexed yet."""
        with self._lock:
            self.pending[key] = anchor
            self._pending_since[key] = self.clock()

    @staticmethod
    def _reference_problem(anchor: AnchorEvent) -> str | None:
        """Why an anchor's manifest reference can never be read, or None (checked before any I/O)."""
        cid = anchor.manifest_cid
        if cid == OVERSIZED_CID or len(cid) > MAX_CID_CHARS:
            return f"the manifest CID is over {MAX_CID_CHARS} characters"
        if anchor.count > MAX_BATCH:
            return f"the batch claims {anchor.count} credentials, over the cap of {MAX_BATCH}"
        try:
            parse_cid(cid)
        except InputError as exc:
            return f"the manifest CID is malformed: {_short(exc.message, 160)}"
        return None

    def _reject(self, key: Key, anchor: AnchorEvent, why: str) -> None:
        """Reject a batch's manifest for good: recorded, reported, never pending again."""
        with self._lock:
            self.pending.pop(key, None)
            self._pending_since.pop(key, None)
            self.rejected[key] = why
        log.warning(
            "manifest of batch 0x%s (issuer %s, block %d) rejected: %s",
            anchor.root.hex(),
            anchor.issuer,
            anchor.block_number,
            why,
        )

    def _load(self, key: Key, anchor: AnchorEvent) -> None:
        if self.store is None:
            return
        cid = anchor.manifest_cid
        try:
            data = self.store.get(cid)  # type: ignore[attr-defined]
        except StoreError as exc:
            log.info("manifest %s not readable yet: %s", cid, _short(str(exc), 200))
            return
        except InputError as exc:  # the store refuses it outright (too large, not a CID it takes)
            self._reject(key, anchor, _short(exc.message, 200))
            return
        except Exception as exc:  # a broken store must not stop the follower
            log.warning("manifest %s: %s", cid, _short(str(exc), 200))
            return
        try:
            tree = self._check(anchor, data)
        except (InputError, ValueError, RecursionError) as exc:
            self._reject(key, anchor, _short(getattr(exc, "message", None) or str(exc), 300))
            return
        except ChainError as exc:  # the chain id could not be read: retry later
            log.info("manifest %s not checked yet: %s", cid, exc)
            return
        self._keep(key, anchor, tree)
        self._learn_issuer(anchor.contract, anchor.issuer)

    def _keep(self, key: Key, anchor: AnchorEvent, tree: MerkleTree) -> None:
        """Index a checked batch's tree: every digest it lists now points at it."""
        with self._lock:
            self.trees[key] = tree
            for i, d in enumerate(tree.digests):
                places = self.digests.setdefault(d, [])
                if places and places[-1][0] == key:  # listed twice in one batch: the last counts
                    places[-1] = (key, i)
                else:
                    places.append((key, i))
            self.pending.pop(key, None)
            self._pending_since.pop(key, None)

    def _check(self, anchor: AnchorEvent, data: bytes) -> MerkleTree:
        """The manifest's tree, after checking it against its anchor; ``InputError`` if it does not fit."""
        if len(data) > MAX_MANIFEST_BYTES:
            raise InputError(f"the manifest is {len(data)} bytes, over the cap of {MAX_MANIFEST_BYTES}")
        m = Manifest.parse(data)
        tree = MerkleTree.build(m.digest_bytes())
        problems = []
        if tree.root != anchor.root:
            problems.append("its digests do not rebuild the anchored root")
        if m.root != "0x" + anchor.root.hex():
            problems.append("root differs from the anchored root")
        if m.registry != format_registry(self.reader.chain_id(), anchor.contract):
            problems.append("registry differs")
        if m.issuer != anchor.issuer:
            problems.append("issuer differs")
        if m.count != anchor.count:
            problems.append("count differs")
        if problems:
            raise InputError("manifest does not match its anchor: " + ", ".join(problems))
        return tree

    def _learn_issuer(self, contract: str, issuer: str) -> None:
        """Remember an anchoring issuer's registered URI (it never changes); retried on failure."""
        if (contract, issuer) in self.uris:
            return
        rec = self.reader.known_issuer(contract, issuer)
        if rec is None:
            try:
                rec = self.reader.issuer_info(contract, issuer)
            except ChainError as exc:
                log.info("issuer %s not read yet: %s", issuer, exc)
                return
        if rec.registered:
            self._keep_uri(contract, issuer, rec.uri)

    def _keep_uri(self, contract: str, issuer: str, uri: str) -> None:
        with self._lock:
            self.uris[(contract, issuer)] = uri

    def sync(self) -> None:
        """Retry manifests that could not be read before, and issuer records not read yet."""
        for key, anchor in list(self.pending.items()):
            self._load(key, anchor)
        for contract, issuer, _ in list(self.trees):
            self._learn_issuer(contract, issuer)

    def overdue(self) -> list[Key]:
        """Pending batches past their grace period (they no longer hold readiness back)."""
        now = self.clock()
        with self._lock:
            return [k for k, t in self._pending_since.items() if now - t >= self.pending_grace]

    def blocking(self) -> int:
        """How many pending manifests are still within their grace period."""
        return len(self.pending) - len(self.overdue())

    def caught_up(self) -> bool:
        """True when the follower is fresh and no manifest within its grace period is pending."""
        return self.reader.follower_fresh() and self.store is not None and self.blocking() == 0

    # -- lookups --------------------------------------------------------------------------------
    def _found(self, digest: bytes, allowed: set[str] | None) -> list[Place]:
        with self._lock:
            return [
                Place(k, i, self.batches[k])
                for k, i in self.digests.get(digest, ())
                if allowed is None or k[0] in allowed
            ]

    def _uri(self, contract: str, issuer: str) -> str | None:
        return self.uris.get((contract, issuer))

    def _path(self, place: Place) -> list[bytes]:
        return self.trees[place.key].proof(place.leaf)

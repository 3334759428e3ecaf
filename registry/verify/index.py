"""Digest -> batch index for bare documents and bare digests.

The index follows ``BatchAnchored`` events (it listens to a :class:`ChainReader`'s follower),
reads each batch's manifest from the content store by its CID, checks that the manifest rebuilds
the anchored root and names the same registry and issuer, and maps every listed digest to its
batch. A manifest that cannot be read yet stays pending and is retried on every sync; the index
is "caught up" when the follower is fresh and nothing is pending.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from registry.core.formats import Manifest, format_registry
from registry.core.merkle import MerkleTree
from registry.errors import InputError, StoreError
from registry.verify.reader import AnchorEvent, ChainEvent, ChainReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexHit:
    """Where a digest was anchored, with the Merkle path rebuilt from the manifest."""

    anchor: AnchorEvent
    path: list[bytes]
    manifest: Manifest


class DigestIndex:
    """Maps credential digests to the anchored batches that contain them."""

    def __init__(self, reader: ChainReader, store: object | None, *, tree_cache: int = 64) -> None:
        self.reader = reader
        self.store = store
        self._lock = threading.RLock()
        self.batches: dict[tuple[str, bytes], AnchorEvent] = {}
        self.manifests: dict[tuple[str, bytes], Manifest] = {}
        self.digests: dict[bytes, list[tuple[str, bytes]]] = {}
        self.pending: dict[tuple[str, bytes], AnchorEvent] = {}
        self.rejected: dict[tuple[str, bytes], str] = {}
        self._trees: OrderedDict[tuple[str, bytes], MerkleTree] = OrderedDict()
        self._tree_cache = tree_cache
        reader.listeners.append(self.on_event)
        reader.after_poll.append(self.sync)

    # -- following ------------------------------------------------------------------------------
    def on_event(self, ev: ChainEvent) -> None:
        """Follower callback: index every ``BatchAnchored`` event."""
        if ev.name != "BatchAnchored" or ev.anchor is None:
            return
        key = (ev.contract, ev.anchor.root)
        with self._lock:
            if key in self.batches:
                return
            self.batches[key] = ev.anchor
            self.pending[key] = ev.anchor
        self._load(key, ev.anchor)

    def _load(self, key: tuple[str, bytes], anchor: AnchorEvent) -> None:
        if self.store is None:
            return
        try:
            data = self.store.get(anchor.manifest_cid)  # type: ignore[attr-defined]
        except StoreError as exc:
            log.info("manifest %s not readable yet: %s", anchor.manifest_cid, exc)
            return
        except Exception as exc:  # a broken store must not stop the follower
            log.warning("manifest %s: %s", anchor.manifest_cid, exc)
            return
        try:
            m = Manifest.parse(data, check_root=True)
            chain_id = self.reader.chain_id()
            problems = []
            if m.root != "0x" + anchor.root.hex():
                problems.append("root differs from the anchored root")
            if m.registry != format_registry(chain_id, anchor.contract):
                problems.append("registry differs")
            if m.issuer != anchor.issuer:
                problems.append("issuer differs")
            if m.count != anchor.count:
                problems.append("count differs")
            if problems:
                raise InputError("manifest does not match its anchor: " + ", ".join(problems))
        except Exception as exc:
            with self._lock:
                self.pending.pop(key, None)
                self.rejected[key] = str(exc)
            log.warning("manifest %s rejected: %s", anchor.manifest_cid, exc)
            return
        with self._lock:
            self.manifests[key] = m
            for d in m.digest_bytes():
                self.digests.setdefault(d, []).append(key)
            self.pending.pop(key, None)

    def sync(self) -> None:
        """Retry manifests that could not be read before."""
        for key, anchor in list(self.pending.items()):
            self._load(key, anchor)

    def caught_up(self) -> bool:
        """True when the follower is fresh and every anchored batch's manifest is indexed."""
        return self.reader.follower_fresh() and not self.pending and self.store is not None

    # -- lookups --------------------------------------------------------------------------------
    def _tree(self, key: tuple[str, bytes]) -> MerkleTree:
        with self._lock:
            tree = self._trees.get(key)
            if tree is None:
                tree = self.manifests[key].rebuild_tree()
                self._trees[key] = tree
                while len(self._trees) > self._tree_cache:
                    self._trees.popitem(last=False)
            else:
                self._trees.move_to_end(key)
            return tree

    def find(self, digest: bytes, contracts: list[str] | None = None) -> IndexHit | None:
        """The latest anchored batch (in the given contracts) holding ``digest``, or None."""
        keys = self.digests.get(digest)
        if not keys:
            return None
        for key in reversed(keys):
            if contracts is not None and key[0] not in contracts:
                continue
            tree = self._tree(key)
            return IndexHit(self.batches[key], tree.proof_for(digest), self.manifests[key])
        return None

"""Chain reads for verifiers: batched JSON-RPC, a cache with a staleness bound, event following.

Batches are scoped per issuer on chain, so every read names ``(contract, issuer, root, digest)``.
One verification costs one JSON-RPC batch to the node: the contract's ``lookup(issuer, root,
digest)`` view, the head block and (first time only) the issuer's record. The ``BatchAnchored``
log of a batch is read only for a batch that ``lookup`` says exists and that the event follower
has not seen yet, in a bounded block range (the proof's block, or the blocks after the follower's
position), as a second round trip: an unknown, attacker-chosen root never costs a log query.

Staleness bound: a cached answer is served only while it is younger than ``staleness`` seconds,
whatever the follower says. The follower drops, earlier, the entries an event can change (batch or
credential revoked, suspended, reinstated, issuer suspended or key revoked; any event it cannot
decode drops the whole contract's entries). It trusts ``eth_getLogs`` over a block range only for
blocks at least ``tip_blocks`` below the head; newer blocks are read one by one by block hash
(EIP-234), which a node whose log index lags cannot answer partially: it answers that block's logs
or an error. ``synced_at`` is the start of the last poll whose head the follower has read every
log of, so ``follower_fresh`` is never true over a gap.

The reader speaks plain JSON-RPC over httpx (no web3 middleware on the hot path); any transport
failure, error object or malformed answer becomes ``ChainError``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from eth_utils import to_checksum_address

from registry.chain.connection import safe_url
from registry.chain.finality import FinalityRule
from registry.chain.schema import (
    EVENTS,
    EVENTS_BY_TOPIC,
    FUNCTIONS,
    Batch,
    Issuer,
    IssuerStatus,
    Lookup,
    topic_of_address,
)
from registry.errors import ChainError
from registry.verify.status_detail import CREDENTIAL_EVENTS, KeyCut, StatusEvent, StatusHistory

if TYPE_CHECKING:
    from registry.verify.quorum import QuorumClient

log = logging.getLogger(__name__)

MAX_STATUS_LOGS = 1000
"""Most status events (or their blocks) read to explain one revocation or suspension."""
MAX_REASON_DATA = 64 * 1024
"""A revocation's log data longer than this is not decoded (its reason is not shown)."""

MAX_ANCHOR_DATA = 1024
"""``BatchAnchored`` data longer than this (count + a CID of some 900 characters) is not decoded."""
OVERSIZED_CID = "(oversized)"
"""Stands for a manifest CID too long to decode; the digest index rejects it permanently."""


WATCHED = frozenset(
    {
        "IssuerRegistered",
        "IssuerSuspended",
        "IssuerReinstated",
        "IssuerKeyRevoked",
        "BatchAnchored",
        "BatchRevoked",
        "CredentialRevoked",
        "CredentialSuspended",
        "CredentialReinstated",
    }
)
"""Events whose effect on cached answers is known exactly; any other event drops a contract's cache."""

# the reader's names for the schema's records
LookupView = Lookup
IssuerRecord = Issuer
BatchRecord = Batch


@dataclass(frozen=True)
class AnchorEvent:
    """One ``BatchAnchored`` log: where the batch's transaction landed."""

    contract: str
    root: bytes
    issuer: str
    count: int
    manifest_cid: str
    block_number: int
    transaction_hash: str
    log_index: int


@dataclass(frozen=True)
class ChainEvent:
    """Any registry event, decoded enough to invalidate caches."""

    name: str
    contract: str
    block_number: int
    transaction_hash: str
    log_index: int
    root: bytes | None = None
    digest: bytes | None = None
    issuer: str | None = None
    anchor: AnchorEvent | None = None


@dataclass(frozen=True)
class ChainView:
    """Everything one verification needs from the chain, read together."""

    chain_id: int
    contract: str
    head: int
    lookup: LookupView
    anchor: AnchorEvent | None
    issuer: IssuerRecord | None
    from_cache: bool = False
    rule: FinalityRule = FinalityRule.depth
    finalized: int | None = None  # the node's finalized block under the finalized rule


@dataclass
class _Entry:
    lookup: LookupView
    issuer: IssuerRecord | None
    fetched_at: float
    head: int
    finalized: int | None = None


class RpcClient:
    """Minimal JSON-RPC 2.0 over HTTP with batching; every failure is a ``ChainError``."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = safe_url(url)
        self._target = url
        self._client = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=16))
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _send(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Post ``calls`` as one batch; the answer object of each, in order."""
        ids = [next(self._ids) for _ in calls]
        payload: Any = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        single = len(calls) == 1
        if single:
            payload = payload[0]
        try:
            resp = self._client.post(self._target, json=payload)
        except httpx.HTTPError as exc:
            raise ChainError(f"cannot reach the chain node at {self.url}: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise ChainError(f"chain node at {self.url} answered HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise ChainError(f"chain node at {self.url} answered something that is not JSON") from exc
        answers = [body] if single and isinstance(body, dict) else body
        if not isinstance(answers, list):
            raise ChainError(f"chain node at {self.url} answered a malformed JSON-RPC batch")
        by_id: dict[Any, Any] = {}
        for a in answers:
            if isinstance(a, dict) and "id" in a:
                by_id[a["id"]] = a
        out: list[dict[str, Any]] = []
        for i, (method, _) in zip(ids, calls, strict=True):
            a = by_id.get(i)
            if a is None:
                raise ChainError(f"chain node at {self.url} did not answer {method}")
            if a.get("error") is None and "result" not in a:
                raise ChainError(f"chain node at {self.url} answered {method} without a result")
            out.append(a)
        return out

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Send ``(method, params)`` calls as one batch; return their results in order."""
        if not calls:
            return []
        out: list[Any] = []
        for (method, _), a in zip(calls, self._send(calls), strict=True):
            if a.get("error") is not None:
                raise ChainError(f"chain node at {self.url} refused {method}: {_error_text(a['error'])}")
            out.append(a["result"])
        return out

    def batch_settled(self, calls: Sequence[tuple[str, list[Any]]]) -> list[tuple[bool, Any]]:
        """Like :meth:`batch`, but a call the node refuses gives ``(False, message)``, not an error."""
        if not calls:
            return []
        return [
            (False, _error_text(a["error"])) if a.get("error") is not None else (True, a["result"])
            for a in self._send(calls)
        ]

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call."""
        return self.batch([(method, params)])[0]


def _error_text(err: Any) -> str:
    msg = err.get("message") if isinstance(err, dict) else err
    return str(msg)[:200]


def _hex_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainError(f"malformed {what} from the chain node")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ChainError(f"malformed {what} from the chain node") from exc


def _finalized_number(block: Any) -> int:
    """The number of the block object the node answered for the ``finalized`` tag."""
    if not isinstance(block, dict):
        raise ChainError("the chain node answered the finalized block without a block")
    return _hex_int(block.get("number"), "finalized block number")


def _hex_int(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainError(f"malformed {what} from the chain node")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise ChainError(f"malformed {what} from the chain node") from exc


def decode_lookup(data: bytes) -> Lookup:
    """Decode the ABI answer of ``lookup``."""
    return Lookup.decode(data)


def decode_issuer(address: str, data: bytes) -> Issuer:
    """Decode the ABI answer of ``issuer``."""
    return Issuer.decode(address, data)


def decode_log(entry: Any) -> ChainEvent | None:
    """Decode one registry log (any event of the artifact's ABI); None for topics it does not know."""
    if not isinstance(entry, dict):
        raise ChainError("malformed log from the chain node")
    topics = entry.get("topics")
    if not isinstance(topics, list) or not topics:
        raise ChainError("malformed log topics from the chain node")
    spec = EVENTS_BY_TOPIC.get(str(topics[0]).lower())
    if spec is None:
        return None
    name = spec.name
    try:
        contract = to_checksum_address(entry["address"])
        block = _hex_int(entry["blockNumber"], "log block number")
        tx = str(entry["transactionHash"]).lower()
        idx = _hex_int(entry.get("logIndex", "0x0"), "log index")
        tb = [_hex_bytes(t, "log topic") for t in topics[1:]]
        data = _hex_bytes(entry.get("data", "0x"), "log data")
    except (KeyError, ValueError, TypeError) as exc:
        raise ChainError("malformed log from the chain node") from exc
    anchored = name == "BatchAnchored"
    oversized = anchored and len(data) > MAX_ANCHOR_DATA
    args = spec.decode_args(tb, data if anchored and not oversized else None)
    issuer, root, digest = args.get("issuer"), args.get("root"), args.get("digest")
    anchor = None
    if anchored:
        if root is None or issuer is None:
            raise ChainError("malformed BatchAnchored log")
        if oversized:
            # an oversized manifest reference: keep a marker, never the megabytes (the index rejects it)
            count = spec.decode_args(tb, data[:32], first=1)["count"]
            args.update(count=count, manifestCid=OVERSIZED_CID)
        anchor = AnchorEvent(contract, root, issuer, args["count"], args["manifestCid"], block, tx, idx)
    return ChainEvent(name, contract, block, tx, idx, root=root, digest=digest, issuer=issuer, anchor=anchor)


class ChainReader:
    """Cached, batched, event-following reads of one chain's registry contracts."""

    def __init__(
        self,
        rpc_url: str | Sequence[str],
        contracts: Iterable[str] = (),
        *,
        timeout: float = 10.0,
        staleness: float = 15.0,
        from_block: int = 0,
        log_chunk: int = 50_000,
        cache_size: int = 200_000,
        reorg_depth: int = 64,
        tip_blocks: int = 8,
        clock: Callable[[], float] = time.monotonic,
        finality: str = "depth",
        quorum: int | None = None,
        allow_minority: bool = False,
    ) -> None:
        # several URLs: every read goes through a quorum of them (registry/verify/quorum.py)
        if isinstance(rpc_url, str):
            self.rpc: RpcClient | QuorumClient = RpcClient(rpc_url, timeout=timeout)
        else:
            from registry.verify.quorum import client_for

            self.rpc = client_for(rpc_url, quorum=quorum, timeout=timeout, allow_minority=allow_minority)
        self.url = self.rpc.url
        self.contracts: list[str] = [str(to_checksum_address(c)) for c in contracts]
        self.staleness = staleness
        self.clock = clock
        self.log_chunk = log_chunk
        self.cache_size = cache_size
        self.tip_blocks = max(1, tip_blocks)
        self.finality = finality  # "depth", "finalized" or "auto" (resolved at the first read)
        self._rule: FinalityRule | None = FinalityRule.depth if finality == "depth" else None
        self._chain_id: int | None = None
        self._cache: OrderedDict[tuple[str, str, bytes, bytes], _Entry] = OrderedDict()
        self._anchors: dict[tuple[str, str, bytes], AnchorEvent] = {}
        self._issuers: dict[tuple[str, str], IssuerRecord] = {}
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._epoch = 0
        # event follower state
        self.from_block = from_block
        self.reorg_depth = reorg_depth
        self._seen: tuple[int, str] | None = None  # (number, hash) of the last block read in full
        self._polls: list[tuple[float, int]] = []  # (poll start, head seen) of polls not yet covered
        self.next_block = from_block
        self.synced_at: float | None = None  # start of the last poll whose head was read in full
        self.head: int | None = None
        self.last_error: str | None = None
        self.listeners: list[Callable[[ChainEvent], None]] = []
        self.after_poll: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.stats = {"hits": 0, "misses": 0, "errors": 0, "events": 0, "reorgs": 0, "log_queries": 0}
        # issue 16 (registry/index): reorg hooks of a shared follower, anchors known to a replica
        self.reorg_listeners: list[Callable[[int], None]] = []
        self.shared_anchors: SharedAnchors | None = None

    # -- basics ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop following and close connections."""
        self.stop()
        self.rpc.close()

    def chain_id(self) -> int:
        """The node's chain id (read once)."""
        if self._chain_id is None:
            self._chain_id = _hex_int(self.rpc.call("eth_chainId", []), "chain id")
        return self._chain_id

    def block_number(self) -> int:
        """The node's head block."""
        return _hex_int(self.rpc.call("eth_blockNumber", []), "block number")

    def follower_fresh(self, now: float | None = None) -> bool:
        """True when the event follower read all events up to less than ``staleness`` s ago."""
        now = self.clock() if now is None else now
        return self.synced_at is not None and now - self.synced_at < self.staleness

    # -- verification reads -----------------------------------------------------------------------
    def cached(self, contract: str, root: bytes, digest: bytes, issuer: str) -> ChainView | None:
        """A view from the cache when it is younger than the staleness bound; never does I/O."""
        issuer = _addr(issuer)
        entry = self._cache.get((contract, issuer, root, digest))
        if entry is None or self._chain_id is None:
            return None
        now = self.clock()
        if now - entry.fetched_at >= self.staleness:  # the bound, whatever the follower says
            return None
        head = entry.head
        if self.head is not None and self.follower_fresh(now):
            head = max(head, self.head)
        anchor = self._anchors.get((contract, issuer, root))
        rule = self._rule or FinalityRule.depth
        if rule is FinalityRule.finalized and (
            anchor is None or entry.finalized is None or anchor.block_number > entry.finalized
        ):
            return None  # not final when read: it may be final now, so read again
        self.stats["hits"] += 1
        return ChainView(
            self._chain_id,
            contract,
            head,
            entry.lookup,
            anchor,
            entry.issuer,
            from_cache=True,
            rule=rule,
            finalized=entry.finalized,
        )

    def read(
        self, contract: str, root: bytes, digest: bytes, issuer: str, proof_block: int | None = None
    ) -> ChainView:
        """Cached view or a fresh read (see :meth:`fetch`); raises ``ChainError``."""
        view = self.cached(contract, root, digest, issuer)
        if view is not None:
            return view
        return self.fetch(contract, root, digest, issuer, proof_block)

    def fetch(
        self, contract: str, root: bytes, digest: bytes, issuer: str, proof_block: int | None = None
    ) -> ChainView:
        """Read ``lookup`` + head (+ the issuer's record once) in one JSON-RPC batch and cache it.

        Only when the batch exists and its anchor log is not known yet, a second round trip reads
        that log in a bounded block range (see :meth:`_find_anchor`).
        """
        contract = str(to_checksum_address(contract))
        issuer = _addr(issuer)
        self.stats["misses"] += 1
        with self._lock:
            epoch = self._epoch
        started = self.clock()
        calls: list[tuple[str, list[Any]]] = []
        need_chain = self._chain_id is None
        if need_chain:
            calls.append(("eth_chainId", []))
        calls.append(("eth_blockNumber", []))
        rule = self.finality_rule()
        if rule is FinalityRule.finalized:
            calls.append(("eth_getBlockByNumber", ["finalized", False]))
        data = FUNCTIONS["lookup"].calldata(issuer, root, digest)
        calls.append(("eth_call", [{"to": contract, "data": data}, "latest"]))
        issuer_rec = self._issuers.get((contract, issuer))
        if issuer_rec is None:
            idata = FUNCTIONS["issuer"].calldata(issuer)
            calls.append(("eth_call", [{"to": contract, "data": idata}, "latest"]))
        try:
            results = self.rpc.batch(calls)
            it = iter(results)
            if need_chain:
                self._chain_id = _hex_int(next(it), "chain id")
            head = _hex_int(next(it), "block number")
            finalized = _finalized_number(next(it)) if rule is FinalityRule.finalized else None
            lookup = decode_lookup(_hex_bytes(next(it), "lookup answer"))
            if issuer_rec is None:
                issuer_rec = decode_issuer(issuer, _hex_bytes(next(it), "issuer answer"))
            anchor = self._anchors.get((contract, issuer, root))
            if anchor is None and lookup.batch_exists:
                anchor = self._find_anchor(contract, issuer, root, proof_block, head)
        except ChainError:
            self.stats["errors"] += 1
            raise
        if lookup.batch_exists and lookup.issuer != issuer:
            raise ChainError("the registry answered lookup for another issuer than asked")
        if issuer_rec.status != IssuerStatus.none:
            # status and key revocation come fresh from lookup; name/uri never change
            issuer_rec = IssuerRecord(
                issuer_rec.address,
                lookup.issuer_status if lookup.batch_exists else issuer_rec.status,
                issuer_rec.registered_at,
                lookup.key_revoked_since if lookup.batch_exists else issuer_rec.key_revoked_since,
                issuer_rec.name,
                issuer_rec.uri,
            )
            self._issuers[(contract, issuer)] = issuer_rec
        rec: IssuerRecord | None = issuer_rec if issuer_rec.status != IssuerStatus.none else None
        assert self._chain_id is not None
        key = (contract, issuer, root, digest)
        with self._lock:
            if epoch == self._epoch:  # no event arrived meanwhile that could make this answer old
                self._cache[key] = _Entry(lookup, rec, started, head, finalized)
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return ChainView(self._chain_id, contract, head, lookup, anchor, rec, rule=rule, finalized=finalized)

    def finality_rule(self) -> FinalityRule:
        """The rule in force; ``auto`` asks the node once whether it knows the ``finalized`` tag."""
        if self._rule is not None:
            return self._rule
        ((ok, answer),) = self.rpc.batch_settled([("eth_getBlockByNumber", ["finalized", False])])
        if ok and answer is not None:
            self._rule = FinalityRule.finalized
        elif self.finality == "finalized":
            raise ChainError(f"the chain node at {self.url} does not know the `finalized` block tag")
        else:
            self._rule = FinalityRule.depth
        return self._rule

    def _find_anchor(
        self, contract: str, issuer: str, root: bytes, proof_block: int | None, head: int
    ) -> AnchorEvent | None:
        """The ``BatchAnchored`` log of an existing batch, read in a bounded block range.

        First the block the proof names (one block), then, when the follower has read the chain
        up to ``next_block``, only the blocks after it (the event is not among those it read);
        a full-range query is left only to readers that never followed (the one-shot CLI).
        """
        shared = self._shared_anchor(contract, issuer, root)
        if shared is not None:
            return shared
        ranges: list[tuple[int, str]] = []
        if proof_block is not None and self.from_block <= proof_block <= head:
            ranges.append((proof_block, hex(proof_block)))
        if self.synced_at is not None:
            ranges.append((max(self.from_block, self.next_block - self.reorg_depth), "latest"))
        elif not ranges or self._thread is None:
            ranges.append((self.from_block, "latest"))
        for start, end in ranges:
            query = {
                "address": contract,
                "fromBlock": hex(start),
                "toBlock": end,
                "topics": [EVENTS["BatchAnchored"].topic, "0x" + root.hex(), topic_of_address(issuer)],
            }
            self.stats["log_queries"] += 1
            logs = self.rpc.call("eth_getLogs", [query])
            if not isinstance(logs, list):
                raise ChainError("malformed eth_getLogs answer from the chain node")
            for entry in logs:
                ev = decode_log(entry)
                if ev is not None and ev.anchor is not None and ev.root == root and ev.issuer == issuer:
                    with self._lock:
                        self._anchors[(contract, issuer, root)] = ev.anchor
                    return ev.anchor
        return None

    def issuer_info(self, contract: str, address: str) -> IssuerRecord:
        """Read an issuer's record (uncached apart from name/uri)."""
        address = _addr(address)
        data = FUNCTIONS["issuer"].calldata(address)
        rec = decode_issuer(
            address,
            _hex_bytes(
                self.rpc.call("eth_call", [{"to": contract, "data": data}, "latest"]), "issuer answer"
            ),
        )
        if rec.status != IssuerStatus.none:
            self._issuers[(contract, address)] = rec
        return rec

    def known_issuer(self, contract: str, address: str) -> IssuerRecord | None:
        """The issuer's record when already read (name and URI never change); no I/O."""
        return self._issuers.get((contract, _addr(address)))

    def batch_info(
        self, contract: str, issuer: str, root: bytes, proof_block: int | None = None
    ) -> tuple[BatchRecord, AnchorEvent | None, int]:
        """A batch record and the head block in one round trip; its anchor log only if it exists."""
        contract = str(to_checksum_address(contract))
        issuer = _addr(issuer)
        data = FUNCTIONS["batch"].calldata(issuer, root)
        call = ("eth_call", [{"to": contract, "data": data}, "latest"])
        res = self.rpc.batch([("eth_blockNumber", []), call])
        head = _hex_int(res[0], "block number")
        rec = Batch.decode(root, _hex_bytes(res[1], "batch answer"))
        anchor = self._anchors.get((contract, issuer, root))
        if anchor is None and rec.anchored_at != 0:
            anchor = self._find_anchor(contract, issuer, root, proof_block, head)
        return rec, anchor, head

    def anchor_event(self, contract: str, issuer: str, root: bytes) -> AnchorEvent | None:
        """The known ``BatchAnchored`` log of an issuer's batch (from the follower or earlier reads)."""
        return self._anchors.get((str(to_checksum_address(contract)), _addr(issuer), root))

    def anchors_of_root(self, contract: str, root: bytes) -> list[AnchorEvent]:
        """Every known ``BatchAnchored`` log of a root in a contract (one per issuer), oldest first."""
        contract = str(to_checksum_address(contract))
        with self._lock:
            found = [a for (c, _, r), a in self._anchors.items() if c == contract and r == root]
        if not found and self.shared_anchors is not None:
            found = self.shared_anchors.of_root(contract, root)
        return sorted(found, key=lambda a: (a.block_number, a.log_index))

    def recent_anchors(self, contract: str, root: bytes) -> list[AnchorEvent]:
        """Known anchors of a root, else those in the blocks the follower has not read yet.

        The log query is bounded to the blocks after the follower's position (minus the reorg
        depth); before the follower has synced once this raises ``ChainError`` rather than scan the
        whole chain for an anonymous caller's root.
        """
        found = self.anchors_of_root(contract, root)
        if found:
            return found
        if self.synced_at is None:
            raise ChainError("the event follower has not read the chain yet")
        query = {
            "address": str(to_checksum_address(contract)),
            "fromBlock": hex(max(self.from_block, self.next_block - self.reorg_depth)),
            "toBlock": "latest",
            "topics": [EVENTS["BatchAnchored"].topic, "0x" + root.hex()],
        }
        self.stats["log_queries"] += 1
        logs = self.rpc.call("eth_getLogs", [query])
        if not isinstance(logs, list):
            raise ChainError("malformed eth_getLogs answer from the chain node")
        out = []
        for entry in logs:
            ev = decode_log(entry)
            if ev is not None and ev.anchor is not None and ev.root == root:
                out.append(ev.anchor)
        return sorted(out, key=lambda a: (a.block_number, a.log_index))

    # -- status history (when and why a credential is revoked or suspended) ---------------------
    def status_history(
        self,
        contract: str,
        issuer: str,
        scope: str,
        *,
        root: bytes,
        digest: bytes,
        start: int,
        head: int,
        since: int,
    ) -> StatusHistory:
        """The status events of one credential (``scope="credential"``: issuer + digest) or batch
        (``"batch"``: root + issuer) in blocks ``start..head``, with the issuer's key cut-off log
        when ``since`` is set and the timestamps of the events' blocks (by block hash).

        Every query names the exact topics and a bounded block range, read in chunks of
        ``log_chunk`` blocks; a history of more than ``MAX_STATUS_LOGS`` events or blocks is a
        ``ChainError`` (nothing shown rather than a guess)."""
        contract, issuer = str(to_checksum_address(contract)), _addr(issuer)
        who = topic_of_address(issuer)
        topics: list[Any]
        if scope == "batch":
            topics = [EVENTS["BatchRevoked"].topic, "0x" + root.hex(), who]
        else:
            topics = [[EVENTS[n].topic for n in CREDENTIAL_EVENTS], who, "0x" + digest.hex()]
        events = [_status_event(e, contract) for e in self._status_logs(contract, topics, start, head)]
        cut = None
        if since:
            logs = self._status_logs(contract, [EVENTS["IssuerKeyRevoked"].topic, who], start, head)
            if not logs:  # without it the key's changes cannot be told from the manager's
                raise ChainError("the issuer's IssuerKeyRevoked event is not in the blocks read")
            first = min((_status_event(e, contract) for e in logs), key=lambda e: e.position)
            cut = KeyCut(first.block_number, first.log_index, since)
        return StatusHistory(scope, tuple(events), cut, self._block_times({e.block_hash for e in events}))

    def _status_logs(self, contract: str, topics: list[Any], start: int, head: int) -> list[Any]:
        """``eth_getLogs`` of ``topics`` over ``start..head`` in chunks, in chain order, bounded."""
        out: list[Any] = []
        for lo in range(max(start, 0), head + 1, max(1, self.log_chunk)):
            hi = min(head, lo + self.log_chunk - 1)
            self.stats["log_queries"] += 1
            query = {"address": contract, "fromBlock": hex(lo), "toBlock": hex(hi), "topics": topics}
            logs = self.rpc.call("eth_getLogs", [query])
            if not isinstance(logs, list):
                raise ChainError("malformed eth_getLogs answer from the chain node")
            out.extend(logs)
            if len(out) > MAX_STATUS_LOGS:
                raise ChainError(f"more than {MAX_STATUS_LOGS} status events: not read")
        return out

    def _block_times(self, hashes: set[str]) -> dict[str, int]:
        """The timestamps of blocks by hash, in one batch (at most ``MAX_STATUS_LOGS`` blocks)."""
        wanted = sorted(hashes)
        if len(wanted) > MAX_STATUS_LOGS:
            raise ChainError(f"status events in more than {MAX_STATUS_LOGS} blocks: not read")
        blocks = self.rpc.batch([("eth_getBlockByHash", [h, False]) for h in wanted])
        times = {}
        for h, blk in zip(wanted, blocks, strict=True):
            if not isinstance(blk, dict) or str(blk.get("hash", "")).lower() != h:
                raise ChainError("malformed eth_getBlockByHash answer from the chain node")
            times[h] = _hex_int(blk.get("timestamp"), "block timestamp")
        return times

    # -- event following --------------------------------------------------------------------------
    def _invalidate(self, ev: ChainEvent) -> None:
        with self._lock:
            self._epoch += 1
            c = ev.contract
            if ev.name == "BatchAnchored" or ev.name == "BatchRevoked":
                if ev.anchor is not None and ev.issuer is not None:
                    self._anchors[(c, ev.issuer, ev.anchor.root)] = ev.anchor
                # a cached "unknown batch" (or unrevoked) answer for this issuer's root must go
                doomed = [k for k in self._cache if k[0] == c and k[1] == ev.issuer and k[2] == ev.root]
            elif ev.name.startswith("Credential") and ev.digest is not None:
                doomed = [k for k in self._cache if k[0] == c and k[3] == ev.digest]
            elif ev.name in WATCHED and ev.issuer is not None:
                doomed = [k for k in self._cache if k[0] == c and k[1] == ev.issuer]
                self._issuers.pop((c, ev.issuer), None)
            else:  # an event whose effect is not known exactly: drop everything of the contract
                doomed = [k for k in self._cache if k[0] == c]
                self._issuers = {k: v for k, v in self._issuers.items() if k[0] != c}
            for k in doomed:
                self._cache.pop(k, None)

    def _deliver(self, logs: Any) -> list[ChainEvent]:
        """Decode a log list, apply each event to the caches and notify the listeners."""
        if not isinstance(logs, list):
            raise ChainError("malformed eth_getLogs answer from the chain node")
        chunk = [ev for ev in (decode_log(e) for e in logs) if ev is not None]
        chunk.sort(key=lambda e: (e.block_number, e.log_index))
        for ev in chunk:
            self._invalidate(ev)
            for fn in self.listeners:
                try:
                    fn(ev)
                except Exception:  # a listener must not stop the follower
                    log.exception("event listener failed")
        return chunk

    def poll(self) -> list[ChainEvent]:
        """Read every registry event since the last poll, invalidate caches, notify listeners.

        Blocks at least ``tip_blocks`` below the head are read with range queries; the newer ones
        by block hash, one per block. When the node cannot answer a tip block (its log index lags),
        the follower stops before it: ``synced_at`` does not advance past what was read, the error
        is kept in ``last_error`` and the next poll retries.
        """
        if not self.contracts:
            started = self.clock()
            self.head = self.block_number()
            self.synced_at = started
            return []
        with self._poll_lock:
            started = self.clock()
            events: list[ChainEvent] = []
            try:
                if self._chain_id is None:
                    self.chain_id()
                head, head_hash = self._check_reorg()
                self._polls.append((started, head))
                start = self.next_block
                last_range = head - self.tip_blocks
                while start <= last_range:
                    end = min(last_range, start + self.log_chunk - 1)
                    self.stats["log_queries"] += 1
                    logs = self.rpc.call(
                        "eth_getLogs",
                        [{"address": self.contracts, "fromBlock": hex(start), "toBlock": hex(end)}],
                    )
                    events.extend(self._deliver(logs))
                    self.next_block = start = end + 1
                lag = self._read_tip(head, head_hash, events)
            except ChainError as exc:
                self.last_error = str(exc)
                self.stats["events"] += len(events)
                raise
            self.head = head
            self._settle()
            self.last_error = lag
            self.stats["events"] += len(events)
            return events

    def _read_tip(self, head: int, head_hash: str, events: list[ChainEvent]) -> str | None:
        """Read the blocks from ``next_block`` to ``head`` by block hash; the lag message or None."""
        if self.next_block > head:
            return None
        numbers = list(range(self.next_block, head + 1))
        hashes: dict[int, str] = {head: head_hash}
        wanted = [n for n in numbers if n != head]
        if wanted:
            blocks = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in wanted])
            for n, blk in zip(wanted, blocks, strict=True):
                if not isinstance(blk, dict) or not isinstance(blk.get("hash"), str):
                    raise ChainError("malformed eth_getBlockByNumber answer from the chain node")
                hashes[n] = str(blk["hash"])
        calls = [("eth_getLogs", [{"address": self.contracts, "blockHash": hashes[n]}]) for n in numbers]
        self.stats["log_queries"] += len(calls)
        answers = self.rpc.batch_settled(calls)
        for n, (ok, logs) in zip(numbers, answers, strict=True):
            if not ok:
                return f"the node's log index has not reached block {n} yet ({str(logs)[:120]})"
            events.extend(self._deliver(logs))
            self.next_block = n + 1
            self._seen = (n, hashes[n])
        return None

    def _settle(self) -> None:
        """Advance ``synced_at`` to the start of the latest poll whose head has been read in full."""
        done = self.next_block - 1
        covered = [p for p in self._polls if p[1] <= done]
        if covered:
            self.synced_at = max(t for t, _ in covered)
            self._polls = [p for p in self._polls if p[1] > done]
        del self._polls[:-1024]

    def _check_reorg(self) -> tuple[int, str]:
        """Head block number and hash; on a reorg (the last synced block changed or vanished) drop
        every cached answer and re-read events from ``reorg_depth`` blocks back."""
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", ["latest", False])]
        if self._seen is not None:
            calls.append(("eth_getBlockByNumber", [hex(self._seen[0]), False]))
        res = self.rpc.batch(calls)
        latest = res[0]
        if not isinstance(latest, dict):
            raise ChainError("malformed eth_getBlockByNumber answer from the chain node")
        head = _hex_int(latest.get("number"), "block number")
        head_hash = str(latest.get("hash"))
        if self._seen is not None:
            old = res[1]
            if not isinstance(old, dict | type(None)):
                raise ChainError("malformed eth_getBlockByNumber answer from the chain node")
            if old is None or str(old.get("hash")) != self._seen[1]:
                log.warning("chain reorganisation below block %d: dropping cached answers", self._seen[0])
                with self._lock:
                    self._epoch += 1
                    self._cache.clear()
                    self._anchors.clear()
                    self._issuers.clear()
                self.next_block = max(self.from_block, self._seen[0] - self.reorg_depth)
                self._seen = None
                self.stats["reorgs"] += 1
                for hook in self.reorg_listeners:
                    hook(self.next_block)
        return head, head_hash

    def start_following(self, interval: float | None = None) -> None:
        """Poll events in a background thread every ``interval`` seconds (default staleness/5)."""
        if self._thread is not None:
            return
        every = interval if interval is not None else max(0.05, min(1.0, self.staleness / 5))
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll()
                except ChainError:
                    pass
                except Exception:  # keep following whatever happens
                    log.exception("event follower failed")
                for hook in self.after_poll:
                    try:
                        hook()
                    except Exception:
                        log.exception("after-poll hook failed")
                self._stop.wait(every)

        self._thread = threading.Thread(target=loop, name="registry-event-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background follower."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    # -- shared follower (issue 16, registry/index) -----------------------------------------------
    def _shared_anchor(self, contract: str, issuer: str, root: bytes) -> AnchorEvent | None:
        """The anchor the shared follower recorded for a batch (a replica's reader), cached."""
        if self.shared_anchors is None:
            return None
        found = self.shared_anchors.anchor(contract, issuer, root)
        if found is not None:
            with self._lock:
                self._anchors[(contract, issuer, root)] = found
        return found

    def position(self) -> tuple[int, tuple[int, str] | None]:
        """The follower's position: the next block to read and the last block read by hash."""
        return self.next_block, self._seen

    def resume(self, next_block: int, seen: tuple[int, str] | None) -> None:
        """Continue following from a recorded position (a restarted shared follower)."""
        with self._poll_lock:
            self.next_block = max(self.from_block, next_block)
            self._seen = seen

    def apply_event(self, ev: ChainEvent) -> None:
        """Drop the cached answers an event another process read can change (a replica)."""
        self._invalidate(ev)

    def drop_cached(self) -> None:
        """Drop every cached answer and known anchor (a reorganisation another process saw)."""
        with self._lock:
            self._epoch += 1
            self._cache.clear()
            self._anchors.clear()
            self._issuers.clear()

    def adopt(self, head: int | None, next_block: int, synced_at: float | None) -> None:
        """Take a shared follower's state as this reader's (its clock's ``synced_at``)."""
        self.head = head
        self.next_block = next_block
        self.synced_at = synced_at


class SharedAnchors(Protocol):
    """Anchors a shared follower recorded (``registry.index.replica.SharedIndex``)."""

    def anchor(self, contract: str, issuer: str, root: bytes) -> AnchorEvent | None:
        """The anchor of one issuer's batch, or None."""
        ...

    def of_root(self, contract: str, root: bytes) -> list[AnchorEvent]:
        """Every anchor of a root in a contract."""
        ...


def _status_event(entry: Any, contract: str) -> StatusEvent:
    """One status log of ``contract`` (its reason decoded, at most ``MAX_REASON_DATA`` bytes)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("topics"), list) or not entry["topics"]:
        raise ChainError("malformed log from the chain node")
    spec = EVENTS_BY_TOPIC.get(str(entry["topics"][0]).lower())
    try:
        if spec is None or to_checksum_address(entry["address"]) != contract:
            raise ChainError("the chain node answered a log that was not asked for")
        tb = [_hex_bytes(t, "log topic") for t in entry["topics"][1:]]
        data = _hex_bytes(entry.get("data", "0x"), "log data")
        block = _hex_int(entry["blockNumber"], "log block number")
        idx = _hex_int(entry.get("logIndex", "0x0"), "log index")
        block_hash, tx = str(entry["blockHash"]).lower(), str(entry["transactionHash"]).lower()
    except (KeyError, ValueError, TypeError) as exc:
        raise ChainError("malformed log from the chain node") from exc
    reason = None
    if "reason" in spec.data_names:
        if len(data) > MAX_REASON_DATA:
            reason = "(a reason too long to show)"
        else:
            reason = str(spec.decode_args(tb, data).get("reason", ""))
    else:
        spec.decode_args(tb)  # the indexed arguments are well-formed
    return StatusEvent(spec.name, block, idx, block_hash, tx, reason)


def _addr(address: str) -> str:
    return str(to_checksum_address(address))


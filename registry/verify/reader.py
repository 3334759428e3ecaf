"""Chain reads for verifiers: batched JSON-RPC, a cache with a staleness bound, event following.

One verification needs at most one HTTP round trip to the node: the contract's ``lookup(root,
digest)`` view, the issuer's record, the ``BatchAnchored`` log of the root and the head block
travel together as one JSON-RPC batch. Answers are cached per ``(contract, root, digest)``.

Staleness bound: a cached answer is served only while it is younger than ``staleness`` seconds,
or while the event follower has read every contract event up to a moment less than ``staleness``
seconds ago (an event that could change the answer — batch or credential revoked, suspended,
reinstated, issuer suspended or key revoked — drops the affected entries). So a change on chain is
visible within the bound, and when the node cannot be read past the bound, reads fail with
``ChainError`` instead of serving an old answer.

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
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from registry.chain.connection import safe_url
from registry.errors import ChainError

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


SEL_LOOKUP = _selector("lookup(bytes32,bytes32)")
SEL_ISSUER = _selector("issuer(address)")
SEL_BATCH = _selector("batch(bytes32)")
LOOKUP_TYPES = ["address", "uint64", "uint32", "uint64", "uint8", "uint64", "uint8"]
ISSUER_TYPES = ["uint8", "uint64", "uint64", "string", "string"]
BATCH_TYPES = ["address", "uint64", "uint32", "uint64"]

EVENTS: dict[str, str] = {
    "IssuerRegistered": "IssuerRegistered(address,string,string)",
    "IssuerSuspended": "IssuerSuspended(address)",
    "IssuerReinstated": "IssuerReinstated(address)",
    "IssuerKeyRevoked": "IssuerKeyRevoked(address,uint64)",
    "BatchAnchored": "BatchAnchored(bytes32,address,uint32,string)",
    "BatchRevoked": "BatchRevoked(bytes32,address,string)",
    "CredentialRevoked": "CredentialRevoked(address,bytes32,string)",
    "CredentialSuspended": "CredentialSuspended(address,bytes32)",
    "CredentialReinstated": "CredentialReinstated(address,bytes32)",
}
TOPICS: dict[str, str] = {name: _topic(sig) for name, sig in EVENTS.items()}
TOPIC_NAMES: dict[str, str] = {t: n for n, t in TOPICS.items()}


@dataclass(frozen=True)
class LookupView:
    """The contract's ``lookup(root, digest)`` answer."""

    issuer: str
    anchored_at: int
    count: int
    batch_revoked_at: int
    issuer_status: int
    key_revoked_since: int
    credential_status: int

    @property
    def batch_exists(self) -> bool:
        """True when the root was anchored in this registry."""
        return self.issuer != ZERO_ADDRESS and self.anchored_at != 0


@dataclass(frozen=True)
class IssuerRecord:
    """The contract's ``issuer(address)`` answer."""

    address: str
    status: int
    registered_at: int
    key_revoked_since: int
    name: str
    uri: str


@dataclass(frozen=True)
class BatchRecord:
    """The contract's ``batch(root)`` answer."""

    issuer: str
    anchored_at: int
    count: int
    revoked_at: int


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


@dataclass
class _Entry:
    lookup: LookupView
    issuer: IssuerRecord | None
    fetched_at: float
    head: int
    followed: bool  # True when event invalidation covers this entry
    issuer_addr: str = field(default="")


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

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Send ``(method, params)`` calls as one batch; return their results in order."""
        if not calls:
            return []
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
        out: list[Any] = []
        for i, (method, _) in zip(ids, calls, strict=True):
            a = by_id.get(i)
            if a is None:
                raise ChainError(f"chain node at {self.url} did not answer {method}")
            if a.get("error") is not None:
                err = a["error"]
                msg = err.get("message") if isinstance(err, dict) else str(err)
                raise ChainError(f"chain node at {self.url} refused {method}: {str(msg)[:200]}")
            if "result" not in a:
                raise ChainError(f"chain node at {self.url} answered {method} without a result")
            out.append(a["result"])
        return out

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call."""
        return self.batch([(method, params)])[0]


def _hex_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainError(f"malformed {what} from the chain node")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ChainError(f"malformed {what} from the chain node") from exc


def _hex_int(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainError(f"malformed {what} from the chain node")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise ChainError(f"malformed {what} from the chain node") from exc


def _decode(types: list[str], data: bytes, what: str) -> tuple[Any, ...]:
    if not data:
        raise ChainError(f"no registry contract answered {what} (empty return data)")
    try:
        return tuple(decode(types, data))
    except Exception as exc:  # eth_abi raises several decoding errors
        raise ChainError(f"cannot decode {what} from the chain node") from exc


def decode_lookup(data: bytes) -> LookupView:
    """Decode the ABI answer of ``lookup``."""
    v = _decode(LOOKUP_TYPES, data, "lookup")
    return LookupView(to_checksum_address(v[0]), v[1], v[2], v[3], v[4], v[5], v[6])


def decode_issuer(address: str, data: bytes) -> IssuerRecord:
    """Decode the ABI answer of ``issuer``."""
    v = _decode(ISSUER_TYPES, data, "issuer")
    return IssuerRecord(to_checksum_address(address), v[0], v[1], v[2], v[3], v[4])


def decode_log(entry: Any) -> ChainEvent | None:
    """Decode one registry log; None for logs of unknown events."""
    if not isinstance(entry, dict):
        raise ChainError("malformed log from the chain node")
    topics = entry.get("topics")
    if not isinstance(topics, list) or not topics:
        raise ChainError("malformed log topics from the chain node")
    name = TOPIC_NAMES.get(str(topics[0]).lower())
    if name is None:
        return None
    try:
        contract = to_checksum_address(entry["address"])
        block = _hex_int(entry["blockNumber"], "log block number")
        tx = str(entry["transactionHash"]).lower()
        idx = _hex_int(entry.get("logIndex", "0x0"), "log index")
        tb = [_hex_bytes(t, "log topic") for t in topics[1:]]
        data = _hex_bytes(entry.get("data", "0x"), "log data")
    except (KeyError, ValueError, TypeError) as exc:
        raise ChainError("malformed log from the chain node") from exc
    if name == "BatchAnchored":
        if len(tb) < 2:
            raise ChainError("malformed BatchAnchored log")
        count, cid = _decode(["uint32", "string"], data, "BatchAnchored data")
        issuer = to_checksum_address(tb[1][-20:])
        anchor = AnchorEvent(contract, tb[0], issuer, count, cid, block, tx, idx)
        return ChainEvent(name, contract, block, tx, idx, root=tb[0], issuer=issuer, anchor=anchor)
    if name == "BatchRevoked":
        if len(tb) < 2:
            raise ChainError("malformed BatchRevoked log")
        return ChainEvent(name, contract, block, tx, idx, root=tb[0], issuer=to_checksum_address(tb[1][-20:]))
    if name.startswith("Credential"):
        if len(tb) < 2:
            raise ChainError(f"malformed {name} log")
        return ChainEvent(
            name, contract, block, tx, idx, issuer=to_checksum_address(tb[0][-20:]), digest=tb[1]
        )
    if len(tb) < 1:
        raise ChainError(f"malformed {name} log")
    return ChainEvent(name, contract, block, tx, idx, issuer=to_checksum_address(tb[0][-20:]))


class ChainReader:
    """Cached, batched, event-following reads of one chain's registry contracts."""

    def __init__(
        self,
        rpc_url: str,
        contracts: Iterable[str] = (),
        *,
        timeout: float = 10.0,
        staleness: float = 15.0,
        max_age: float = 300.0,
        from_block: int = 0,
        log_chunk: int = 50_000,
        cache_size: int = 200_000,
        reorg_depth: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rpc = RpcClient(rpc_url, timeout=timeout)
        self.url = safe_url(rpc_url)
        self.contracts: list[str] = [str(to_checksum_address(c)) for c in contracts]
        self.staleness = staleness
        self.max_age = max(max_age, staleness)
        self.clock = clock
        self.log_chunk = log_chunk
        self.cache_size = cache_size
        self._chain_id: int | None = None
        self._cache: OrderedDict[tuple[str, bytes, bytes], _Entry] = OrderedDict()
        self._anchors: dict[tuple[str, bytes], AnchorEvent] = {}
        self._issuers: dict[tuple[str, str], IssuerRecord] = {}
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._epoch = 0
        # event follower state
        self.from_block = from_block
        self.reorg_depth = reorg_depth
        self._seen: tuple[int, str] | None = None  # (number, hash) of the last synced head
        self.next_block = from_block
        self.synced_at: float | None = None  # clock time at which the last successful poll began
        self.head: int | None = None
        self.last_error: str | None = None
        self.listeners: list[Callable[[ChainEvent], None]] = []
        self.after_poll: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.stats = {"hits": 0, "misses": 0, "errors": 0, "events": 0, "reorgs": 0}

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
    def cached(self, contract: str, root: bytes, digest: bytes) -> ChainView | None:
        """A view from the cache when it is within the staleness bound; never does I/O."""
        key = (contract, root, digest)
        entry = self._cache.get(key)
        if entry is None or self._chain_id is None:
            return None
        now = self.clock()
        age = now - entry.fetched_at
        head = entry.head
        if age >= self.staleness and not (entry.followed and age < self.max_age and self.follower_fresh(now)):
            return None
        if self.head is not None and self.follower_fresh(now):
            head = max(head, self.head)
        self.stats["hits"] += 1
        return ChainView(
            self._chain_id,
            contract,
            head,
            entry.lookup,
            self._anchors.get((contract, root)),
            entry.issuer,
            from_cache=True,
        )

    def read(self, contract: str, root: bytes, digest: bytes, issuer_hint: str | None = None) -> ChainView:
        """Cached view or one batched round trip to the node; raises ``ChainError``."""
        view = self.cached(contract, root, digest)
        if view is not None:
            return view
        return self.fetch(contract, root, digest, issuer_hint)

    def fetch(self, contract: str, root: bytes, digest: bytes, issuer_hint: str | None = None) -> ChainView:
        """Read lookup + issuer + anchor log + head in one JSON-RPC batch and cache the answer."""
        contract = to_checksum_address(contract)
        self.stats["misses"] += 1
        epoch = self._epoch
        started = self.clock()
        calls: list[tuple[str, list[Any]]] = []
        need_chain = self._chain_id is None
        if need_chain:
            calls.append(("eth_chainId", []))
        calls.append(("eth_blockNumber", []))
        data = "0x" + (SEL_LOOKUP + encode(["bytes32", "bytes32"], [root, digest])).hex()
        calls.append(("eth_call", [{"to": contract, "data": data}, "latest"]))
        anchor = self._anchors.get((contract, root))
        if anchor is None:
            calls.append(self._anchor_logs_call(contract, root))
        hint = to_checksum_address(issuer_hint) if issuer_hint else None
        issuer_rec = self._issuers.get((contract, hint)) if hint else None
        if hint and issuer_rec is None:
            idata = "0x" + (SEL_ISSUER + encode(["address"], [hint])).hex()
            calls.append(("eth_call", [{"to": contract, "data": idata}, "latest"]))
        try:
            results = self.rpc.batch(calls)
        except ChainError:
            self.stats["errors"] += 1
            raise
        it = iter(results)
        if need_chain:
            self._chain_id = _hex_int(next(it), "chain id")
        head = _hex_int(next(it), "block number")
        lookup = decode_lookup(_hex_bytes(next(it), "lookup answer"))
        if anchor is None:
            logs = next(it)
            if not isinstance(logs, list):
                raise ChainError("malformed eth_getLogs answer from the chain node")
            for entry in logs:
                ev = decode_log(entry)
                if ev is not None and ev.anchor is not None and ev.root == root:
                    anchor = ev.anchor
                    self._anchors[(contract, root)] = anchor
                    break
        if hint and issuer_rec is None:
            issuer_rec = decode_issuer(hint, _hex_bytes(next(it), "issuer answer"))
        if issuer_rec is not None and lookup.batch_exists and issuer_rec.address != lookup.issuer:
            issuer_rec = None  # the hint named someone else: fetch the batch's own issuer next time
        if issuer_rec is not None:
            # status and key revocation come fresh from lookup; name/uri never change
            issuer_rec = IssuerRecord(
                issuer_rec.address,
                lookup.issuer_status,
                issuer_rec.registered_at,
                lookup.key_revoked_since,
                issuer_rec.name,
                issuer_rec.uri,
            )
            self._issuers[(contract, issuer_rec.address)] = issuer_rec
        assert self._chain_id is not None
        with self._lock:
            followed = epoch == self._epoch and self.synced_at is not None
            self._cache[(contract, root, digest)] = _Entry(
                lookup, issuer_rec, started, head, followed, lookup.issuer
            )
            self._cache.move_to_end((contract, root, digest))
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return ChainView(self._chain_id, contract, head, lookup, anchor, issuer_rec)

    def issuer_info(self, contract: str, address: str) -> IssuerRecord:
        """Read an issuer's record (uncached apart from name/uri)."""
        address = to_checksum_address(address)
        data = "0x" + (SEL_ISSUER + encode(["address"], [address])).hex()
        rec = decode_issuer(
            address,
            _hex_bytes(
                self.rpc.call("eth_call", [{"to": contract, "data": data}, "latest"]), "issuer answer"
            ),
        )
        if rec.status != 0:
            self._issuers[(contract, address)] = rec
        return rec

    def _anchor_logs_call(self, contract: str, root: bytes) -> tuple[str, list[Any]]:
        """The ``eth_getLogs`` call that finds a root's ``BatchAnchored`` event."""
        query = {
            "address": contract,
            "fromBlock": hex(self.from_block),
            "toBlock": "latest",
            "topics": [TOPICS["BatchAnchored"], "0x" + root.hex()],
        }
        return ("eth_getLogs", [query])

    def batch_info(self, contract: str, root: bytes) -> tuple[BatchRecord, AnchorEvent | None, int]:
        """Read a batch record, its anchor log and the head block in one round trip."""
        data = "0x" + (SEL_BATCH + encode(["bytes32"], [root])).hex()
        calls: list[tuple[str, list[Any]]] = [
            ("eth_blockNumber", []),
            ("eth_call", [{"to": contract, "data": data}, "latest"]),
        ]
        anchor = self._anchors.get((contract, root))
        if anchor is None:
            calls.append(self._anchor_logs_call(contract, root))
        res = self.rpc.batch(calls)
        head = _hex_int(res[0], "block number")
        v = _decode(BATCH_TYPES, _hex_bytes(res[1], "batch answer"), "batch")
        rec = BatchRecord(to_checksum_address(v[0]), v[1], v[2], v[3])
        if anchor is None:
            logs = res[2]
            if not isinstance(logs, list):
                raise ChainError("malformed eth_getLogs answer from the chain node")
            for entry in logs:
                ev = decode_log(entry)
                if ev is not None and ev.anchor is not None and ev.root == root:
                    anchor = ev.anchor
                    self._anchors[(contract, root)] = anchor
        return rec, anchor, head

    def anchor_event(self, contract: str, root: bytes) -> AnchorEvent | None:
        """The known ``BatchAnchored`` log of a root (from the follower or earlier reads)."""
        return self._anchors.get((to_checksum_address(contract), root))

    # -- event following --------------------------------------------------------------------------
    def _invalidate(self, ev: ChainEvent) -> None:
        with self._lock:
            self._epoch += 1
            if ev.name == "BatchAnchored":
                if ev.anchor is not None:
                    self._anchors[(ev.contract, ev.anchor.root)] = ev.anchor
                # a cached "unknown batch" answer for this root must go
                doomed = [k for k in self._cache if k[0] == ev.contract and k[1] == ev.root]
            elif ev.name == "BatchRevoked":
                doomed = [k for k in self._cache if k[0] == ev.contract and k[1] == ev.root]
            elif ev.digest is not None:
                doomed = [k for k in self._cache if k[0] == ev.contract and k[2] == ev.digest]
            else:
                doomed = [
                    k for k, e in self._cache.items() if k[0] == ev.contract and e.issuer_addr == ev.issuer
                ]
                if ev.issuer is not None:
                    self._issuers.pop((ev.contract, ev.issuer), None)
            for k in doomed:
                self._cache.pop(k, None)

    def poll(self) -> list[ChainEvent]:
        """Read every registry event since the last poll, invalidate caches, notify listeners."""
        if not self.contracts:
            started = self.clock()
            self.head = self.block_number()
            self.synced_at = started
            return []
        with self._poll_lock:
            started = self.clock()
            try:
                if self._chain_id is None:
                    self.chain_id()
                head, head_hash = self._check_reorg()
                events: list[ChainEvent] = []
                start = self.next_block
                while start <= head:
                    end = min(head, start + self.log_chunk - 1)
                    logs = self.rpc.call(
                        "eth_getLogs",
                        [{"address": self.contracts, "fromBlock": hex(start), "toBlock": hex(end)}],
                    )
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
                    events.extend(chunk)
                    self.next_block = end + 1
                    start = end + 1
            except ChainError as exc:
                self.last_error = str(exc)
                raise
            self.head = head
            self._seen = (head, head_hash)
            self.synced_at = started
            self.last_error = None
            self.stats["events"] += len(events)
            return events

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
                self.stats["reorgs"] += 1
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
                    for hook in self.after_poll:
                        hook()
                except ChainError:
                    pass
                except Exception:  # keep following whatever happens
                    log.exception("event follower failed")
                self._stop.wait(every)

        self._thread = threading.Thread(target=loop, name="registry-event-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background follower."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

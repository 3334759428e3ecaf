"""Reading the registry's events over a block range, in chunks, decoded and in chain order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.contract import Contract

from registry.errors import ChainError

EVENT_NAMES = (
    "IssuerRegistered",
    "IssuerSuspended",
    "IssuerReinstated",
    "IssuerKeyRevoked",
    "IssuerManagerSet",
    "BatchAnchored",
    "BatchRevoked",
    "CredentialRevoked",
    "CredentialSuspended",
    "CredentialReinstated",
)
ISSUER_EVENTS = ("IssuerRegistered", "IssuerSuspended", "IssuerReinstated", "IssuerKeyRevoked")
# status changes an issuer key (or, after its cut-off, the owner or manager) can make
STATUS_EVENTS = ("BatchRevoked", "CredentialRevoked", "CredentialSuspended", "CredentialReinstated")

DEFAULT_CHUNK = 2000


@dataclass(frozen=True)
class ChainEvent:
    """One decoded registry event. ``args`` holds bytes32 as ``0x`` hex and checksummed addresses."""

    name: str
    block_number: int
    log_index: int
    transaction_hash: str
    args: dict[str, Any]

    @property
    def position(self) -> tuple[int, int]:
        """Sort key: chain order."""
        return (self.block_number, self.log_index)


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    s = str(value)
    return s if s.startswith("0x") else "0x" + s


def _topic_bytes(topic: Any) -> bytes:
    if isinstance(topic, (bytes, bytearray)):
        return bytes(topic)
    return bytes.fromhex(str(topic).removeprefix("0x"))


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and Web3.is_address(value) and value.startswith("0x") and len(value) == 42:
        return Web3.to_checksum_address(value)
    return value


class EventReader:
    """Fetches and decodes the registry's logs with ``eth_getLogs`` over block chunks.

    A chunk the node refuses (too many results, range too wide) is split in halves down to single
    blocks before the error is given up as ``ChainError``.
    """

    def __init__(self, w3: Web3, contract: Contract, *, chunk_size: int = DEFAULT_CHUNK) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.w3 = w3
        self.contract = contract
        self.chunk_size = chunk_size
        self._by_topic: dict[bytes, Any] = {}
        for name in EVENT_NAMES:
            ev = contract.events[name]()
            self._by_topic[_topic_bytes(ev.topic)] = ev
        self._topics_of = {name: _topic_bytes(contract.events[name]().topic) for name in EVENT_NAMES}
        self.calls = 0  # eth_getLogs calls made (for tests and progress)

    def _get_logs(self, start: int, end: int, topics: Sequence[bytes] | None) -> list[Any]:
        params: dict[str, Any] = {"address": self.contract.address, "fromBlock": start, "toBlock": end}
        if topics is not None:
            params["topics"] = [["0x" + t.hex() for t in topics]]
        self.calls += 1
        return list(self.w3.eth.get_logs(params))  # type: ignore[arg-type]

    def _fetch(self, start: int, end: int, topics: Sequence[bytes] | None) -> list[Any]:
        try:
            return self._get_logs(start, end, topics)
        except Exception as exc:
            if start == end:
                raise ChainError(
                    f"cannot read registry events at block {start}: {type(exc).__name__}: {exc}"
                ) from None
            mid = (start + end) // 2
            return self._fetch(start, mid, topics) + self._fetch(mid + 1, end, topics)

    def decode(self, log: Any) -> ChainEvent | None:
        """Decode one raw log of the registry (None for an unknown topic)."""
        topics = log.get("topics") or []
        if not topics:
            return None
        ev = self._by_topic.get(_topic_bytes(topics[0]))
        if ev is None:
            return None
        data = ev.process_log(log)
        return ChainEvent(
            name=str(data["event"]),
            block_number=int(data["blockNumber"]),
            log_index=int(data["logIndex"]),
            transaction_hash=_hex(data["transactionHash"]),
            args={k: _plain(v) for k, v in dict(data["args"]).items()},
        )

    def chunks(self, from_block: int, to_block: int) -> Iterator[tuple[int, int]]:
        """The ``[start, end]`` block chunks covering the range."""
        start = from_block
        while start <= to_block:
            end = min(start + self.chunk_size - 1, to_block)
            yield start, end
            start = end + 1

    def read(
        self,
        from_block: int,
        to_block: int,
        *,
        names: Sequence[str] | None = None,
        on_chunk: Callable[[int, int], None] | None = None,
    ) -> Iterator[ChainEvent]:
        """Events in ``[from_block, to_block]`` in chain order, chunk by chunk.

        ``names`` restricts to some events (a topic filter on the node); ``on_chunk(start, end)``
        is called after each chunk (progress).
        """
        topics = [self._topics_of[n] for n in names] if names is not None else None
        for start, end in self.chunks(from_block, to_block):
            events = [
                e for e in (self.decode(log) for log in self._fetch(start, end, topics)) if e is not None
            ]
            events.sort(key=lambda e: e.position)
            yield from events
            if on_chunk is not None:
                on_chunk(start, end)

"""Reading the registry's events over a block range, in chunks, decoded and in chain order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from web3 import Web3
from web3.contract import Contract

from registry.chain.schema import EVENTS, ISSUER_EVENTS, STATUS_EVENTS, Event, decode_event
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
"""The events the audit reads (ownership transfers are not its business)."""

DEFAULT_CHUNK = 2000

ChainEvent = Event
"""The audit's name for the schema's decoded event record."""

__all__ = ["DEFAULT_CHUNK", "EVENT_NAMES", "ISSUER_EVENTS", "STATUS_EVENTS", "ChainEvent", "EventReader"]


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
        self.calls = 0  # eth_getLogs calls made (for tests and progress)

    def _get_logs(self, start: int, end: int, topics: Sequence[str] | None) -> list[Any]:
        params: dict[str, Any] = {"address": self.contract.address, "fromBlock": start, "toBlock": end}
        if topics is not None:
            params["topics"] = [list(topics)]
        self.calls += 1
        return list(self.w3.eth.get_logs(params))  # type: ignore[arg-type]

    def _fetch(self, start: int, end: int, topics: Sequence[str] | None) -> list[Any]:
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
        """Decode one raw log of the registry (None for a topic the audit does not read)."""
        ev = decode_event(log)
        return ev if ev is not None and ev.name in EVENT_NAMES else None

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
        topics = [EVENTS[n].topic for n in names] if names is not None else None
        for start, end in self.chunks(from_block, to_block):
            events = [
                e for e in (self.decode(log) for log in self._fetch(start, end, topics)) if e is not None
            ]
            events.sort(key=lambda e: e.position)
            yield from events
            if on_chunk is not None:
                on_chunk(start, end)

"""Reading the events a status list depends on from the chain, with block timestamps."""

from __future__ import annotations

from collections.abc import Callable

from web3 import Web3

from registry.audit.events import EventReader
from registry.chain.contract import RegistryContract, call_chain
from registry.chain.schema import Event
from registry.status.derive import LIST_EVENTS, issuer_events


class ChainEvents:
    """The list events of one issuer from ``start_block``, and block timestamps (cached)."""

    def __init__(self, w3: Web3, contract: RegistryContract, issuer: str, *, start_block: int = 0) -> None:
        self.w3 = w3
        self.contract = contract
        self.issuer = issuer
        self.start_block = start_block
        self._times: dict[int, int] = {}

    def head(self) -> int:
        """The chain's latest block number."""
        return int(call_chain(lambda: self.w3.eth.block_number, "block number"))

    def read(self, to_block: int) -> list[Event]:
        """Every list event of the issuer in ``[start_block, to_block]``, chain order."""
        reader = EventReader(self.w3, self.contract.contract)
        events = list(reader.read(self.start_block, to_block, names=LIST_EVENTS))
        return issuer_events(events, self.issuer)

    def read_range(self, from_block: int, to_block: int) -> list[Event]:
        """The issuer's list events in ``[from_block, to_block]`` (empty when the range is)."""
        if to_block < from_block:
            return []
        reader = EventReader(self.w3, self.contract.contract)
        return issuer_events(reader.read(from_block, to_block, names=LIST_EVENTS), self.issuer)

    def timestamp(self, block: int) -> int:
        """The timestamp of ``block``."""
        if block not in self._times:
            got = call_chain(lambda: self.w3.eth.get_block(block), f"block {block}")
            self._times[block] = int(got["timestamp"])
        return self._times[block]

    @property
    def timestamp_of(self) -> Callable[[int], int]:
        """:meth:`timestamp` as a plain function (what :mod:`.derive` takes)."""
        return self.timestamp

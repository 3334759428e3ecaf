"""When an anchor counts: the finality rule shared by the issuer pipeline, the verifier and the audit.

Two rules (``REGISTRY_FINALITY``):

- ``finalized``: a block is final when it is at or below the node's ``finalized`` block (the
  JSON-RPC block tag of post-merge Ethereum and its rollups); such a block cannot be reverted
  without slashing. This is the default where the node supports the tag.
- ``depth``: a block is final when ``REGISTRY_CONFIRMATIONS`` blocks (itself included) are on top
  of it; for chains without the tag. A confirmation count is a guess: a deeper reorg reverts it.

``auto`` (the default setting) takes ``finalized`` when the node answers the tag, else ``depth``.
The decision functions here are pure; :func:`read_finalized` and :func:`resolve_rule` are the only
ones that talk to a node.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from web3.exceptions import BlockNotFound, Web3RPCError

from registry.errors import ChainError, ErrorCode

__all__ = [
    "FinalityRule",
    "FinalityView",
    "is_final",
    "read_finalized",
    "read_view",
    "resolve_rule",
]


class FinalityRule(enum.StrEnum):
    """How a block becomes final."""

    finalized = "finalized"
    depth = "depth"


@dataclass(frozen=True)
class FinalityView:
    """The chain's head and, under the ``finalized`` rule, its finalized block number."""

    rule: FinalityRule
    head: int
    finalized: int | None  # None under the depth rule
    confirmations: int = 1

    @property
    def final_block(self) -> int:
        """The highest block number that counts as final now (-1 when none does)."""
        if self.rule is FinalityRule.finalized:
            return self.finalized if self.finalized is not None else -1
        return self.head - max(self.confirmations, 1) + 1

    def describe(self) -> str:
        """The rule in words, for messages."""
        if self.rule is FinalityRule.finalized:
            return "the chain's finalized block"
        return f"{max(self.confirmations, 1)} confirmations"


def is_final(block_number: int, view: FinalityView) -> bool:
    """True when a block at ``block_number`` counts as final under ``view``."""
    return 0 <= block_number <= view.final_block


def read_finalized(w3: Any) -> int | None:
    """The node's ``finalized`` block number, or None when the node does not know the tag."""
    try:
        block = w3.eth.get_block("finalized")
    except (Web3RPCError, BlockNotFound, ValueError):  # a node without the tag answers an error object
        return None
    if block is None:
        return None
    return int(block["number"])


def resolve_rule(setting: str, w3: Any) -> FinalityRule:
    """``auto`` becomes ``finalized`` when the node supports the tag, else ``depth``."""
    if setting == "auto":
        return FinalityRule.finalized if read_finalized(w3) is not None else FinalityRule.depth
    return FinalityRule(setting)


def read_view(w3: Any, rule: FinalityRule, confirmations: int) -> FinalityView:
    """The node's head and, under the ``finalized`` rule, its finalized block (two reads)."""
    head = int(w3.eth.block_number)
    finalized = read_finalized(w3) if rule is FinalityRule.finalized else None
    if rule is FinalityRule.finalized and finalized is None:
        raise ChainError(
            "the node stopped answering the `finalized` block tag; set REGISTRY_FINALITY",
            code=ErrorCode.NO_FINALIZED_TAG,
        )
    return FinalityView(rule, head, finalized, confirmations)

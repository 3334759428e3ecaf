"""The vote of quorum chain reads (pure: no I/O, no clock).

Several JSON-RPC endpoints answer the same calls pinned to one block. An answer counts only when
at least ``k`` endpoints gave it for a block with the same hash; anything else is
:class:`NoQuorum` (a :class:`~registry.errors.ChainError`, so the verifier answers
``indeterminate``) naming every endpoint and what it did. An endpoint that failed, answered
garbage or is behind never votes; it is named, never counted.

The rules (docs/verification.md, "Quorum reads"):

- the block: the highest one at least ``k`` endpoints have reached (:func:`choose_block`, the
  ``k``-th highest head), so one endpoint claiming a far head moves nothing;
- its hash: ``k`` endpoints must give the same hash for it, else no quorum;
- each call: ``k`` of the endpoints with that hash must give the same canonical answer
  (:func:`canonical`: hex in lower case, logs sorted, blocks reduced to number/hash/parent/time);
  a refusal (JSON-RPC error) is an answer too, so ``k`` refusals are a refusal;
- the ``finalized`` tag: among the endpoints with the agreed hash, ``k`` must answer a block; the
  answer is the ``k``-th highest of their finalized numbers, capped at the pinned block (each of
  those ``k`` says at least that block is final; the same hash at the pinned block means they
  share the chain below it);
- two different answers that both reach ``k`` (possible only when ``k <= n/2``) are no quorum.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registry.errors import ChainError

OK, REFUSED, BAD = "ok", "refused", "bad"
EXACT, FINALIZED = "exact", "finalized"

Vote = tuple[str, Any]
"""One endpoint's answer to one call: (OK, canonical value), (REFUSED, message) or (BAD, reason)."""


class NoQuorum(ChainError):
    """Too few endpoints agree; ``details["endpoints"]`` says what each endpoint did."""


@dataclass(frozen=True)
class Ballot:
    """The answers of one endpoint, pinned to block ``number`` whose hash it gave as ``hash``."""

    endpoint: str
    number: int
    hash: str
    votes: tuple[Vote, ...]


def majority(n: int) -> int:
    """The default quorum of ``n`` endpoints: a strict majority."""
    return n // 2 + 1


def choose_block(heads: Mapping[str, int], k: int) -> int | None:
    """The highest block at least ``k`` endpoints have reached (None when fewer answered)."""
    if len(heads) < k or k < 1:
        return None
    return sorted(heads.values(), reverse=True)[k - 1]


def canonical(method: str, value: Any) -> Any:
    """The comparable form of a JSON-RPC result (a JSON value); ``ValueError`` when malformed."""
    if method in ("eth_call", "eth_getCode", "eth_getStorageAt"):
        return _hex(value)
    if method in ("eth_chainId", "eth_blockNumber", "eth_getBalance", "eth_getTransactionCount"):
        return hex(_int(value))
    if method == "eth_getLogs":
        if not isinstance(value, list):
            raise ValueError("logs are not a list")
        logs = [_log(e) for e in value]
        return sorted(logs, key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16)))
    if method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
        return None if value is None else block_of(value)
    return json.loads(json.dumps(value, sort_keys=True))


def block_of(value: Any) -> dict[str, str]:
    """A block object reduced to what the reader uses, in canonical form."""
    if not isinstance(value, dict):
        raise ValueError("a block is not an object")
    return {
        "number": hex(_int(value.get("number"))),
        "hash": _hex(value.get("hash")),
        "parentHash": _hex(value.get("parentHash")),
        "timestamp": hex(_int(value.get("timestamp"))),
    }


def _log(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("topics"), list):
        raise ValueError("a log is not an object with topics")
    return {
        "address": _hex(entry.get("address")),
        "topics": [_hex(t) for t in entry["topics"]],
        "data": _hex(entry.get("data", "0x")),
        "blockNumber": hex(_int(entry.get("blockNumber"))),
        "blockHash": _hex(entry.get("blockHash")),
        "transactionHash": _hex(entry.get("transactionHash")),
        "logIndex": hex(_int(entry.get("logIndex"))),
        "removed": bool(entry.get("removed", False)),
    }


def _hex(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError("not a hex string")
    text = value[2:].lower()
    if any(c not in "0123456789abcdef" for c in text):
        raise ValueError("not a hex string")
    return "0x" + text


def _int(value: Any) -> int:
    return int(_hex(value), 16)


def settle(method: str, ok: bool, value: Any) -> Vote:
    """One endpoint's answer to one call as a vote."""
    if not ok:
        return (REFUSED, str(value)[:200])
    try:
        return (OK, canonical(method, value))
    except (ValueError, TypeError, OverflowError) as exc:
        return (BAD, f"malformed {method} answer ({exc})")


def vote(
    block: int,
    ballots: Sequence[Ballot],
    k: int,
    kinds: Sequence[str],
    methods: Sequence[str],
    failed: Mapping[str, str] | None = None,
) -> list[tuple[bool, Any]]:
    """The agreed answer of every call at ``block``: ``(True, value)`` or ``(False, message)``.

    ``ballots`` are the endpoints' answers pinned to ``block``; ``failed`` the endpoints that gave
    none (and why); ``kinds[i]`` is EXACT or FINALIZED for call ``i`` (``methods[i]`` names it).
    Raises :class:`NoQuorum` when the hash of ``block`` or any answer lacks ``k`` agreeing
    endpoints.
    """
    failed = dict(failed or {})
    if k < 1:
        raise ValueError("the quorum must be at least 1")
    voters = _hash_quorum(block, ballots, k, failed)
    return [_call_quorum(block, i, voters, k, kinds[i], methods[i], failed) for i in range(len(kinds))]


def _hash_quorum(block: int, ballots: Sequence[Ballot], k: int, failed: dict[str, str]) -> list[Ballot]:
    """The ballots whose hash of ``block`` at least ``k`` endpoints gave."""
    mine = [b for b in ballots if b.number == block]
    for b in ballots:
        if b.number != block:
            failed[b.endpoint] = f"answered for block {b.number}, not block {block}"
    groups = _group(mine, lambda b: b.hash)
    winners = [g for g in groups.values() if len(g) >= k]
    if len(winners) == 1:
        return winners[0]
    what = f"the hash of block {block}"
    raise _no_quorum(what, k, groups, failed, conflict=bool(winners), show=_short)


def _call_quorum(
    block: int, i: int, voters: list[Ballot], k: int, kind: str, method: str, failed: dict[str, str]
) -> tuple[bool, Any]:
    """The answer of call ``i`` that at least ``k`` of ``voters`` gave."""
    groups: dict[str, list[Ballot]] = {}
    bad: dict[str, str] = {}
    for b in voters:
        tag, value = b.votes[i]
        if tag == BAD:
            bad[b.endpoint] = str(value)
            continue
        key = _key(tag, value, kind)
        groups.setdefault(key, []).append(b)
    winners = [g for g in groups.values() if len(g) >= k]
    what = f"{method} at block {block}"
    if len(winners) > 1:
        raise _no_quorum(what, k, groups, {**failed, **bad}, conflict=True)
    if not winners:
        raise _no_quorum(what, k, groups, {**failed, **bad})
    tag, value = winners[0][0].votes[i]
    if tag == REFUSED:
        return (False, value)
    if kind == FINALIZED and value is not None:
        numbers = sorted((min(_int(b.votes[i][1]["number"]), block) for b in winners[0]), reverse=True)
        return (True, {"number": hex(numbers[k - 1])})
    return (True, value)


def _key(tag: str, value: Any, kind: str) -> str:
    """What two votes must share to count together."""
    if tag == REFUSED:
        return REFUSED
    if kind == FINALIZED:
        return "no block" if value is None else "a block"
    return json.dumps(value, sort_keys=True)


def _group(ballots: Sequence[Ballot], key: Any) -> dict[str, list[Ballot]]:
    groups: dict[str, list[Ballot]] = {}
    for b in ballots:
        groups.setdefault(str(key(b)), []).append(b)
    return groups


_PHRASES = {REFUSED: "a refusal", "no block": "no block", "a block": "a block"}


def _short(key: str) -> str:
    return key[:10] + "…" if len(key) > 12 else key


def _no_quorum(
    what: str,
    k: int,
    groups: Mapping[str, list[Ballot]],
    failed: Mapping[str, str],
    *,
    conflict: bool = False,
    show: Callable[[str], str] | None = None,
) -> NoQuorum:
    """The error naming who agreed with whom, who failed and why."""
    ranked = sorted(groups.items(), key=lambda kv: len(kv[1]), reverse=True)
    endpoints: dict[str, str] = {}
    parts = []
    for n, (key, group) in enumerate(ranked, 1):
        names = [b.endpoint for b in group]
        if show is not None:
            label = show(key)
        elif key in _PHRASES:
            label = _PHRASES[key]
        else:
            label = f"answer {n}" if len(ranked) > 1 else "an answer"
        for name in names:
            endpoints[name] = f"gave {label}"
        parts.append(f"{_names(names)} gave {label}")
    for name, why in failed.items():
        endpoints[name] = f"failed: {why}"
        parts.append(f"{name} failed ({why})")
    head = (
        f"endpoints disagree on {what}: two different answers each reached the quorum of {k}"
        if conflict
        else f"no quorum of {k} chain endpoints on {what}"
    )
    return NoQuorum(head + ("; " + "; ".join(parts) if parts else ""), endpoints=endpoints)


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

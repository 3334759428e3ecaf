"""Status changes of many credentials: as few transactions as the block gas limit allows.

The contract takes a list of digests per call (``revokeCredentials`` and its siblings loop over
it), so the only bound is the gas of one block. One call is estimated for a sample of the digests;
chunks are then sized so that their estimate fills :data:`BLOCK_SHARE` of the latest block's gas
limit. Each chunk is one durable status change (``registry.anchor.manage.change_status``: stored
before broadcast, finished by the next command after a crash).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from registry.anchor.manage import ACTIONS, MAX_PER_TX, change_status, parse_digests
from registry.anchor.pipeline import Pipeline
from registry.errors import ErrorCode, InputError

BLOCK_SHARE = 0.9
"""Share of the block gas limit one chunk's estimate may take."""
SAMPLE = 50
"""Digests in the sample call that prices one digest."""


def read_digest_file(path: Path) -> list[str]:
    """Digests from a file: one per line (``0x`` hex or a CID); blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code=ErrorCode.UNREADABLE_FILE) from None
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def chunk_size(pipe: Pipeline, action: str, digests: Sequence[bytes], reason: str | None) -> int:
    """How many digests one transaction of ``action`` can carry (at least 1)."""
    sample = list(digests[:SAMPLE])
    args: list[Any] = [sample] + ([reason] if action == "revoke" else [])
    fn = getattr(pipe.contract.functions, ACTIONS[action])(*args)  # type: ignore[index]
    est = int(fn.estimate_gas({"from": pipe.address}, "pending"))
    single = int(
        getattr(pipe.contract.functions, ACTIONS[action])(  # type: ignore[index]
            *([sample[:1]] + args[1:])
        ).estimate_gas({"from": pipe.address}, "pending")
    )
    per = max(1, (est - single) // max(1, len(sample) - 1)) if len(sample) > 1 else est
    limit = int(pipe.w3.eth.get_block("latest")["gasLimit"])
    return max(1, int((limit * BLOCK_SHARE - single) // per) + 1)


def _safe_chunk_size(pipe: Pipeline, action: str, digests: Sequence[bytes], reason: str | None) -> int:
    """:func:`chunk_size`, or :data:`MAX_PER_TX` when the sample cannot be estimated (a digest the
    contract refuses: the first chunk's own estimate then names the error)."""
    try:
        return chunk_size(pipe, action, digests, reason)
    except Exception:  # noqa: BLE001 - any estimation failure: let change_status report it
        return MAX_PER_TX


def change_many(
    pipe: Pipeline,
    action: str,
    values: Sequence[str],
    reason: str | None = None,
    *,
    on_chunk: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Apply ``action`` to every digest of ``values``, chunked by gas; a summary of the transactions."""
    digests = parse_digests(values) if values else []
    if not digests:
        raise InputError("give at least one credential digest (0x…)", code=ErrorCode.NO_DIGESTS)
    if action == "revoke" and not (reason and reason.strip()):
        raise InputError("a revocation needs a reason (--reason)", code=ErrorCode.REASON_REQUIRED)
    size = _safe_chunk_size(pipe, action, digests, reason) if len(digests) > 1 else 1
    results: list[dict[str, Any]] = []
    for start in range(0, len(digests), size):
        part = digests[start : start + size]
        res = change_status(pipe, action, part, reason, limit=max(MAX_PER_TX, size))
        results.append(res)
        if on_chunk is not None:
            on_chunk(res)
    gas = sum(int(r.get("gas_used") or 0) for r in results)
    return {
        "action": action,
        "credentials": len(digests),
        "digests": [d for r in results for d in r["digests"]],
        "reason": reason,
        "transaction": results[-1]["transaction"],  # the last one (one change: the only one)
        "transactions": [r["transaction"] for r in results],
        "per_transaction": size,
        "gas_used": gas,
        "block": results[-1]["block"],
        "unknown_locally": [d for r in results for d in r["unknown_locally"]],
        "status": results[-1]["status"],
    }

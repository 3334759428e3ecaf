"""Quorum chain reads: :class:`QuorumClient` speaks :class:`~registry.verify.reader.RpcClient`'s
interface (``batch``, ``batch_settled``, ``call``, ``close``, ``url``) over several endpoints
that must agree (the vote: :mod:`registry.verify.vote`).

One batch of calls costs, per endpoint, one JSON-RPC batch in the common case:

1. every endpoint is asked in parallel (threads, the RPC timeout per round) for its ``latest``
   block object, then the calls as given, then ``eth_blockNumber`` again (the bracket: when the
   head moved inside the batch, the answers are not pinned to the block it named);
2. the block is the highest one ``k`` endpoints have reached (the ``k``-th highest head); the
   answers of the endpoints whose head is exactly that block (and did not move) are ballots
   pinned to it, and as soon as ``k`` of them agree the answer is returned, without waiting for
   the others;
3. otherwise the endpoints that are ahead (or moved) are asked a second batch: that block's
   hash and the calls with ``latest`` replaced by its number; then the vote is taken again.

``latest`` (explicit or by default) is replaced in ``eth_call``, ``eth_getBalance``,
``eth_getCode``, ``eth_getTransactionCount``, ``eth_getStorageAt``, ``eth_getBlockByNumber`` and
the ``fromBlock``/``toBlock`` of ``eth_getLogs``; ``eth_blockNumber`` is answered with the chosen
block. ``finalized`` and ``safe`` are voted by their own rule; ``pending`` cannot be pinned and is
refused. An endpoint that is down, slow, answers an HTTP error (429 included), or garbage only
fails to vote: it is named in the error when no quorum is reached, never counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from registry.chain.connection import safe_url
from registry.errors import ChainError, ConfigError
from registry.verify.reader import RpcClient
from registry.verify.vote import (
    EXACT,
    FINALIZED,
    OK,
    Ballot,
    NoQuorum,
    Vote,
    block_of,
    choose_block,
    majority,
    settle,
    vote,
)

Call = tuple[str, list[Any]]

BLOCK_PARAM = {
    "eth_call": 1,
    "eth_getBalance": 1,
    "eth_getCode": 1,
    "eth_getTransactionCount": 1,
    "eth_getStorageAt": 2,
    "eth_getBlockByNumber": 0,
}
"""Where the block tag sits in the parameters of the state reads the quorum pins."""

HEAD, PINNED, FIXED = "head", "pinned", "fixed"


def check_quorum(n: int, k: int, *, allow_minority: bool = False) -> None:
    """Refuse a quorum ``k`` of ``n`` endpoints that cannot protect anything (``ValueError``).

    ``k <= n/2`` lets two disjoint sets of endpoints each reach the quorum with different answers,
    so it is refused unless ``allow_minority`` (the vote still refuses two answers that both reach
    it, but a minority alone decides when the others fail).
    """
    if n < 1:
        raise ValueError("no chain endpoint")
    if not 1 <= k <= n:
        raise ValueError(f"the quorum must be between 1 and the number of endpoints ({n}), not {k}")
    if 2 * k <= n and not allow_minority:
        raise ValueError(
            f"a quorum of {k} of {n} endpoints is not a majority: two disjoint sets of endpoints "
            f"could both reach it; use at least {majority(n)} "
            "(or allow a minority quorum explicitly: REGISTRY_RPC_QUORUM_MINORITY)"
        )


def client_for(
    urls: Sequence[str], *, quorum: int | None = None, timeout: float = 10.0, allow_minority: bool = False
) -> RpcClient | QuorumClient:
    """A plain client for one URL, a :class:`QuorumClient` for several; ``ConfigError`` when the
    quorum cannot protect anything (:func:`check_quorum`) or an endpoint is listed twice."""
    urls = list(urls)
    if len(urls) == 1 and quorum in (None, 1):
        return RpcClient(urls[0], timeout=timeout)
    try:
        return QuorumClient(urls, quorum=quorum, timeout=timeout, allow_minority=allow_minority)
    except ValueError as exc:
        raise ConfigError(f"chain endpoints: {exc}") from None


@dataclass(frozen=True)
class Plan:
    """How each call of a batch is read under the quorum."""

    calls: tuple[Call, ...]
    modes: tuple[str, ...]  # HEAD (answered with the chosen block), PINNED or FIXED
    kinds: tuple[str, ...]  # EXACT or FINALIZED (the vote's rule)

    @classmethod
    def of(cls, calls: Sequence[Call]) -> Plan:
        """The plan of ``calls``; ``ChainError`` for a block tag the quorum cannot pin."""
        modes, kinds = [], []
        for method, params in calls:
            mode, kind = _mode(method, list(params))
            modes.append(mode)
            kinds.append(kind)
        return cls(tuple((m, list(p)) for m, p in calls), tuple(modes), tuple(kinds))

    @property
    def methods(self) -> list[str]:
        """The method of each call."""
        return [m for m, _ in self.calls]

    @property
    def pins(self) -> bool:
        """True when some call depends on the head."""
        return PINNED in self.modes or HEAD in self.modes

    def sent(self, block: int | None) -> list[Call]:
        """The calls an endpoint is asked (``latest`` replaced by ``block`` when given)."""
        return [
            (m, _pin(m, p, hex(block)) if block is not None and mode == PINNED else p)
            for (m, p), mode in zip(self.calls, self.modes, strict=True)
            if mode != HEAD
        ]

    def votes(self, block: int, answers: Sequence[tuple[bool, Any]]) -> tuple[Vote, ...]:
        """The votes of one endpoint's answers to :meth:`sent` (the HEAD calls get ``block``)."""
        it = iter(answers)
        out: list[Vote] = []
        for (method, _), mode in zip(self.calls, self.modes, strict=True):
            if mode == HEAD:
                out.append((OK, hex(block)))
            else:
                ok, value = next(it)
                out.append(settle(method, ok, value))
        return tuple(out)


def _mode(method: str, params: list[Any]) -> tuple[str, str]:
    if method == "eth_blockNumber":
        return HEAD, EXACT
    if method == "eth_getLogs":
        query = params[0] if params and isinstance(params[0], dict) else {}
        if "blockHash" in query:
            return FIXED, EXACT
        tags = [query.get("fromBlock", "latest"), query.get("toBlock", "latest")]
        for tag in tags:
            _refuse_tag(method, tag, ("latest",))
        return (PINNED if "latest" in tags else FIXED), EXACT
    pos = BLOCK_PARAM.get(method)
    if pos is None:
        return FIXED, EXACT
    tag = params[pos] if len(params) > pos else "latest"
    if method == "eth_getBlockByNumber" and tag in ("finalized", "safe"):
        return FIXED, FINALIZED
    _refuse_tag(method, tag, ("latest",))
    return (PINNED if tag == "latest" else FIXED), EXACT


def _refuse_tag(method: str, tag: Any, pinnable: tuple[str, ...]) -> None:
    if isinstance(tag, str) and not tag.startswith("0x") and tag not in (*pinnable, "earliest"):
        raise ChainError(f"quorum reads cannot pin the block tag {tag!r} of {method}")


def _pin(method: str, params: list[Any], block: str) -> list[Any]:
    """``params`` with ``latest`` (explicit or by default) replaced by ``block``."""
    if method == "eth_getLogs":
        query = dict(params[0])
        for key in ("fromBlock", "toBlock"):
            if query.get(key, "latest") == "latest":
                query[key] = block
        return [query, *params[1:]]
    pos = BLOCK_PARAM[method]
    out = list(params)
    if len(out) > pos:
        out[pos] = block
    elif len(out) == pos:  # the tag left out: ``latest`` by default
        out.append(block)
    return out


@dataclass(frozen=True)
class Reply:
    """One endpoint's first answer: its head (and whether it moved inside the batch) and votes."""

    endpoint: str
    head: int
    hash: str
    stable: bool
    votes: tuple[Vote, ...]

    def ballot(self) -> Ballot:
        """The reply as a ballot pinned to its head."""
        return Ballot(self.endpoint, self.head, self.hash, self.votes)


class QuorumClient:
    """JSON-RPC reads that ``quorum`` of the endpoints ``urls`` must agree on (block and answer)."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        quorum: int | None = None,
        timeout: float = 10.0,
        allow_minority: bool = False,
    ) -> None:
        names = [safe_url(u) for u in urls]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is listed twice: it would vote twice")
        self.k = quorum if quorum is not None else majority(len(urls))
        check_quorum(len(urls), self.k, allow_minority=allow_minority)
        self.endpoints = [RpcClient(u, timeout=timeout) for u in urls]
        self.timeout = timeout
        self.deadline = 1.5 * timeout  # a round's bound; each request's own timeout fires first
        self.url = f"{self.k} of {len(urls)} endpoints ({', '.join(names)})"
        self._pool = ThreadPoolExecutor(max_workers=16 * len(urls), thread_name_prefix="rpc-quorum")
        self.stats = {"batches": 0, "second_rounds": 0, "no_quorum": 0}

    def close(self) -> None:
        """Close every endpoint's connections (answers still on their way are dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for ep in self.endpoints:
            ep.close()

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call, agreed by the quorum."""
        return self.batch([(method, params)])[0]

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        """The agreed results of ``calls``; ``ChainError`` when the quorum refuses one."""
        out = []
        for (method, _), (ok, value) in zip(calls, self.batch_settled(calls), strict=True):
            if not ok:
                raise ChainError(f"{self.k} of the chain endpoints refused {method}: {value}")
            out.append(value)
        return out

    def batch_settled(self, calls: Sequence[Call]) -> list[tuple[bool, Any]]:
        """Like :meth:`batch`, but a call the quorum refuses gives ``(False, message)``."""
        if not calls:
            return []
        plan = Plan.of(calls)
        self.stats["batches"] += 1
        try:
            return self._settled(plan)
        except NoQuorum:
            self.stats["no_quorum"] += 1
            raise

    # -- the two rounds -------------------------------------------------------------------------
    def _settled(self, plan: Plan) -> list[tuple[bool, Any]]:
        replies: dict[str, Reply] = {}
        failed: dict[str, str] = {}
        done = self._round_one(plan, replies, failed)
        if done is not None:
            return done
        block = choose_block({n: r.head for n, r in replies.items()}, self.k)
        if block is None:
            answered = f" ({', '.join(replies)})" if replies else ""
            raise NoQuorum(
                f"too few chain endpoints answered: {len(replies)} of {len(self.endpoints)}{answered}, "
                f"the quorum is {self.k}; " + "; ".join(f"{n} failed ({w})" for n, w in failed.items()),
                endpoints={n: f"failed: {w}" for n, w in failed.items()} | {n: "answered" for n in replies},
            )
        ballots = [r.ballot() for r in replies.values() if r.head == block and r.stable]
        for r in replies.values():
            if r.head < block:
                failed[r.endpoint] = f"behind: its head {r.head} is below block {block}"
        again = [ep for ep in self.endpoints if ep.url in replies and _again(replies[ep.url], block)]
        if again:
            done = self._round_two(plan, block, again, ballots, failed)
            if done is not None:
                return done
        return vote(block, ballots, self.k, plan.kinds, plan.methods, failed)

    def _round_one(
        self, plan: Plan, replies: dict[str, Reply], failed: dict[str, str]
    ) -> list[tuple[bool, Any]] | None:
        """Every endpoint's head and answers; the vote as soon as ``k`` at the same head agree."""

        def early() -> list[tuple[bool, Any]] | None:
            block = choose_block({n: r.head for n, r in replies.items()}, self.k)
            if block is None:
                return None
            pinned = [r.ballot() for r in replies.values() if r.head == block and r.stable]
            return _attempt(block, pinned, self.k, plan)

        jobs = {self._pool.submit(self._first, ep, plan): ep.url for ep in self.endpoints}
        return self._gather(jobs, replies.__setitem__, failed, early)

    def _round_two(
        self, plan: Plan, block: int, again: list[RpcClient], ballots: list[Ballot], failed: dict[str, str]
    ) -> list[tuple[bool, Any]] | None:
        """The endpoints ahead of ``block`` (or that moved) asked again, pinned to it."""
        self.stats["second_rounds"] += 1
        jobs = {self._pool.submit(self._second, ep, plan, block): ep.url for ep in again}
        return self._gather(
            jobs, lambda _name, b: ballots.append(b), failed, lambda: _attempt(block, ballots, self.k, plan)
        )

    def _gather(
        self,
        jobs: dict[Future[Any], str],
        keep: Callable[[str, Any], None],
        failed: dict[str, str],
        attempt: Callable[[], list[tuple[bool, Any]] | None],
    ) -> list[tuple[bool, Any]] | None:
        """Collect the answers of ``jobs`` until the round's deadline; stop at the first quorum."""
        deadline = time.monotonic() + self.deadline
        pending = set(jobs)
        while pending:
            left = deadline - time.monotonic()
            finished, pending = wait(pending, timeout=max(0.0, left), return_when=FIRST_COMPLETED)
            if not finished:
                break
            for fut in finished:
                name = jobs[fut]
                try:
                    keep(name, fut.result())
                except ChainError as exc:
                    failed[name] = exc.message
                except Exception as exc:  # an answer we cannot read is a failed vote, never a verdict
                    failed[name] = f"unexpected answer ({type(exc).__name__})"
            out = attempt()
            if out is not None:
                return out
        for fut in pending:
            failed[jobs[fut]] = f"no answer within {self.deadline:g} s"
        return None

    def _first(self, ep: RpcClient, plan: Plan) -> Reply:
        """Round one at one endpoint: its head block, the calls, and the head again."""
        calls: list[Call] = [("eth_getBlockByNumber", ["latest", False]), *plan.sent(None)]
        if plan.pins:
            calls.append(("eth_blockNumber", []))
        answers = ep.batch_settled(calls)
        number, hash_ = _head(ep.url, answers[0], "its latest block")
        stable = True
        if plan.pins:
            ok, again = answers[-1]
            stable = ok and settle("eth_blockNumber", True, again) == (OK, hex(number))
            answers = answers[:-1]
        return Reply(ep.url, number, hash_, stable, plan.votes(number, answers[1:]))

    def _second(self, ep: RpcClient, plan: Plan, block: int) -> Ballot:
        """Round two at one endpoint: the hash of ``block`` and the calls pinned to it."""
        answers = ep.batch_settled([("eth_getBlockByNumber", [hex(block), False]), *plan.sent(block)])
        number, hash_ = _head(ep.url, answers[0], f"block {block}")
        if number != block:
            raise ChainError(f"answered block {number} when asked for block {block}")
        return Ballot(ep.url, block, hash_, plan.votes(block, answers[1:]))


def _head(name: str, answer: tuple[bool, Any], what: str) -> tuple[int, str]:
    """Number and hash of a block object an endpoint answered; ``ChainError`` if there is none."""
    ok, value = answer
    if not ok:
        raise ChainError(f"refused {what}: {str(value)[:200]}")
    if value is None:
        raise ChainError(f"does not have {what}")
    try:
        blk = block_of(value)
    except ValueError as exc:
        raise ChainError(f"answered a malformed block for {what} ({exc})") from None
    return int(blk["number"], 16), blk["hash"]


def _again(reply: Reply, block: int) -> bool:
    """True when an endpoint must be asked again, pinned to ``block``."""
    return reply.head > block or (reply.head == block and not reply.stable)


def _attempt(block: int, ballots: list[Ballot], k: int, plan: Plan) -> list[tuple[bool, Any]] | None:
    """The vote when it already reaches the quorum, else None (more answers may still come)."""
    if len(ballots) < k:
        return None
    try:
        return vote(block, ballots, k, plan.kinds, plan.methods)
    except NoQuorum:
        return None

"""The quorum vote (pure): which answers reach a quorum, and a corpus of ballots that must not."""

from __future__ import annotations

from typing import Any

import pytest

from registry.errors import ChainError
from registry.verify.quorum import Plan, check_quorum
from registry.verify.vote import (
    BAD,
    EXACT,
    FINALIZED,
    OK,
    REFUSED,
    Ballot,
    NoQuorum,
    canonical,
    choose_block,
    majority,
    settle,
    vote,
)

H1, H2 = "0x" + "11" * 32, "0x" + "22" * 32
REVOKED, CLEAR = "0x" + "00" * 31 + "01", "0x" + "00" * 32


def ok(value: Any) -> tuple[str, Any]:
    return (OK, value)


def b(name: str, *votes: tuple[str, Any], number: int = 10, hash_: str = H1) -> Ballot:
    return Ballot(name, number, hash_, tuple(votes))


def lookup_vote(ballots: list[Ballot], k: int = 2, failed: dict[str, str] | None = None) -> Any:
    return vote(10, ballots, k, [EXACT], ["eth_call"], failed)


def test_majority_and_the_block_k_endpoints_reached() -> None:
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert choose_block({"a": 12, "b": 10, "c": 11}, 2) == 11
    assert choose_block({"a": 10**12, "b": 10, "c": 11}, 2) == 11  # a far head moves nothing
    assert choose_block({"a": 12, "b": 10, "c": 11}, 3) == 10
    assert choose_block({"a": 12}, 2) is None


def test_k_agreeing_endpoints_decide_and_outvote_one_liar() -> None:
    assert lookup_vote([b("a", ok(REVOKED)), b("b", ok(CLEAR)), b("c", ok(REVOKED))]) == [(True, REVOKED)]
    # the liar is outvoted whichever answer it gives
    assert lookup_vote([b("a", ok(CLEAR)), b("b", ok(REVOKED)), b("c", ok(CLEAR))]) == [(True, CLEAR)]
    # a liar on another chain (its hash differs) does not vote at all
    assert lookup_vote([b("a", ok(REVOKED)), b("b", ok(CLEAR), hash_=H2), b("c", ok(REVOKED))]) == [
        (True, REVOKED)
    ]
    # hex case does not make two answers
    assert lookup_vote([b("a", ok(canonical("eth_call", "0xABCD"))), b("b", ok("0xabcd"))]) == [
        (True, "0xabcd")
    ]


def test_refusals_are_an_answer_and_garbage_is_no_vote() -> None:
    assert lookup_vote([b("a", (REFUSED, "unknown block")), b("b", (REFUSED, "header not found"))]) == [
        (False, "unknown block")
    ]
    assert lookup_vote([b("a", (BAD, "malformed")), b("b", ok(CLEAR)), b("c", ok(CLEAR))]) == [(True, CLEAR)]


NO_QUORUM: dict[str, tuple[list[Ballot], int, dict[str, str]]] = {
    "one liar and one honest (2 of 3, the third down)": (
        [b("honest", ok(REVOKED)), b("liar", ok(CLEAR))],
        2,
        {"down": "cannot reach the chain node"},
    ),
    "two liars that disagree with each other and one honest": (
        [b("honest", ok(REVOKED)), b("liar1", ok(CLEAR)), b("liar2", ok("0x" + "00" * 31 + "02"))],
        2,
        {},
    ),
    "only one answer at all": ([b("a", ok(CLEAR))], 2, {"b": "HTTP 429", "c": "no answer within 1 s"}),
    "no answer at all": ([], 2, {"a": "HTTP 429", "b": "HTTP 500", "c": "down"}),
    "same answer, hashes differ": ([b("a", ok(CLEAR)), b("b", ok(CLEAR), hash_=H2)], 2, {}),
    "three hashes": (
        [b("a", ok(CLEAR)), b("b", ok(CLEAR), hash_=H2), b("c", ok(CLEAR), hash_="0x" + "33" * 32)],
        2,
        {},
    ),
    "agree, but on another block": (
        [b("a", ok(CLEAR), number=9), b("b", ok(CLEAR), number=9), b("c", ok(CLEAR))],
        2,
        {},
    ),
    "garbage does not count as a vote": ([b("a", (BAD, "malformed")), b("b", (BAD, "malformed"))], 2, {}),
    "garbage plus one answer": ([b("a", (BAD, "malformed")), b("b", ok(CLEAR))], 2, {}),
    "a refusal and an answer": ([b("a", (REFUSED, "rate limited")), b("b", ok(CLEAR))], 2, {}),
    "3 of 3 needed, one dissents": ([b("a", ok(CLEAR)), b("b", ok(CLEAR)), b("c", ok(REVOKED))], 3, {}),
    "minority quorum with two disjoint answers": (
        [b("a", ok(CLEAR)), b("b", ok(CLEAR)), b("c", ok(REVOKED)), b("d", ok(REVOKED))],
        2,
        {},
    ),
    "minority quorum with two disjoint hashes": (
        [b("a", ok(CLEAR)), b("b", ok(CLEAR)), b("c", ok(CLEAR), hash_=H2), b("d", ok(CLEAR), hash_=H2)],
        2,
        {},
    ),
}


@pytest.mark.parametrize("case", sorted(NO_QUORUM))
def test_corpus_of_ballots_that_must_not_reach_a_quorum(case: str) -> None:
    ballots, k, failed = NO_QUORUM[case]
    with pytest.raises(NoQuorum) as info:
        lookup_vote(ballots, k, failed)
    exc = info.value
    assert isinstance(exc, ChainError)  # the verifier turns it into indeterminate
    named = {x.endpoint for x in ballots} | set(failed)
    assert set(exc.details["endpoints"]) == named  # every endpoint is named, with what it did
    for name in named:
        assert name in exc.message
    for name, why in failed.items():
        assert exc.details["endpoints"][name] == f"failed: {why}"


def test_each_call_is_voted_among_the_endpoints_of_the_agreed_hash() -> None:
    logs = [
        {
            "address": "0x" + "aa" * 20,
            "topics": ["0x" + "01" * 32],
            "data": "0x",
            "blockNumber": "0x5",
            "blockHash": H1,
            "transactionHash": "0x" + "02" * 32,
            "logIndex": "0x1",
        }
    ]
    honest = canonical("eth_getLogs", logs)
    got = vote(
        10,
        [b("a", ok("0x1"), ok(honest)), b("b", ok("0x1"), ok([])), b("c", ok("0x1"), ok(honest))],
        2,
        [EXACT, EXACT],
        ["eth_chainId", "eth_getLogs"],
    )
    assert got == [(True, "0x1"), (True, honest)]  # the log-dropping liar is outvoted
    with pytest.raises(NoQuorum, match="eth_getLogs at block 10"):
        vote(10, [b("a", ok(honest)), b("b", ok([]))], 2, [EXACT], ["eth_getLogs"], {"c": "HTTP 429"})


def test_logs_are_compared_in_order_of_block_and_index() -> None:
    def log(n: int, i: int) -> dict[str, Any]:
        return {
            "address": "0x" + "aa" * 20,
            "topics": [],
            "data": "0x",
            "blockNumber": hex(n),
            "blockHash": H1,
            "transactionHash": H2,
            "logIndex": hex(i),
        }

    assert canonical("eth_getLogs", [log(2, 0), log(1, 3)]) == canonical(
        "eth_getLogs", [log(1, 3), log(2, 0)]
    )
    assert canonical("eth_getLogs", [log(1, 3)]) != canonical("eth_getLogs", [log(1, 3), log(2, 0)])
    for bad in ({"x": 1}, [{"topics": "nope"}], [log(1, 0) | {"logIndex": "12"}]):
        assert settle("eth_getLogs", True, bad)[0] == BAD


def _fin(n: int | None) -> tuple[str, Any]:
    return ok(
        None
        if n is None
        else canonical(
            "eth_getBlockByNumber", {"number": hex(n), "hash": H1, "parentHash": H2, "timestamp": "0x1"}
        )
    )


def test_finalized_is_the_kth_highest_claim_capped_at_the_block() -> None:
    def fin(*claims: int | None, k: int = 2) -> Any:
        ballots = [b(f"e{i}", _fin(c)) for i, c in enumerate(claims)]
        return vote(10, ballots, k, [FINALIZED], ["eth_getBlockByNumber"])[0]

    assert fin(8, 8, 8) == (True, {"number": "0x8"})
    assert fin(10, 6, 8) == (True, {"number": "0x8"})  # a liar claiming its head final moves nothing
    assert fin(10, 10, 6) == (True, {"number": "0xa"})
    assert fin(12, 11, 6) == (True, {"number": "0xa"})  # never past the pinned block
    assert fin(8, None, 7) == (True, {"number": "0x7"})
    assert fin(None, None, 7) == (True, None)  # the tag is unknown to a quorum: no finalized block
    with pytest.raises(NoQuorum):
        fin(8, None, k=2)
    with pytest.raises(NoQuorum):  # a malformed claim is no vote
        vote(
            10,
            [b("a", _fin(8)), b("b", _fin(8)), b("c", (BAD, "x"))],
            3,
            [FINALIZED],
            ["eth_getBlockByNumber"],
        )


def test_quorum_sizes_that_protect_nothing_are_refused() -> None:
    check_quorum(3, 2)
    check_quorum(1, 1)
    check_quorum(4, 3)
    for n, k in ((3, 1), (4, 2), (2, 1), (3, 0), (3, 4), (0, 1)):
        with pytest.raises(ValueError):
            check_quorum(n, k)
    check_quorum(4, 2, allow_minority=True)
    with pytest.raises(ValueError):
        check_quorum(3, 4, allow_minority=True)


def test_plan_pins_latest_and_refuses_unpinnable_tags() -> None:
    calls = [
        ("eth_chainId", []),
        ("eth_blockNumber", []),
        ("eth_call", [{"to": "0x1", "data": "0x"}, "latest"]),
        ("eth_call", [{"to": "0x1", "data": "0x"}]),
        ("eth_getBlockByNumber", ["finalized", False]),
        ("eth_getLogs", [{"fromBlock": "0x3", "toBlock": "latest"}]),
        ("eth_getLogs", [{"blockHash": H1}]),
        ("eth_getLogs", [{"fromBlock": "0x3", "toBlock": "0x4"}]),
    ]
    plan = Plan.of(calls)
    assert plan.modes == ("fixed", "head", "pinned", "pinned", "fixed", "pinned", "fixed", "fixed")
    assert plan.kinds[4] == FINALIZED
    sent = plan.sent(0x20)
    assert [m for m, _ in sent] == [m for m, _ in calls if m != "eth_blockNumber"]
    assert sent[1][1][1] == "0x20" and sent[2][1][1] == "0x20"
    assert sent[4][1][0] == {"fromBlock": "0x3", "toBlock": "0x20"}
    assert sent[5][1][0] == {"blockHash": H1} and sent[6][1][0]["toBlock"] == "0x4"
    assert plan.sent(None)[1][1][1] == "latest"
    for tag in ("pending", "safe"):
        with pytest.raises(ChainError, match="cannot pin"):
            Plan.of([("eth_call", [{"to": "0x1"}, tag])])
    with pytest.raises(ChainError, match="cannot pin"):
        Plan.of([("eth_getLogs", [{"fromBlock": "pending"}])])

"""Issue 16 item 3, quorum reads: ``k`` of ``n`` endpoints must agree on block hash and answer.

The endpoints are real local HTTP proxies (tests/verify/rpc_proxies.py) in front of the ONE
session anvil: honest ones, liars that rewrite answers, and broken ones (down, slow, HTTP 429,
garbage). A liar is outvoted; disagreement or too few answers is ``indeterminate`` naming the
endpoints (never their secrets); a broken endpoint only fails to vote.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import newcomer_env
from rpc_proxies import (
    alter_hashes,
    down_url,
    drop_logs,
    finalized_is_latest,
    one_block_behind,
    proxies,
    set_credential_status,
)
from verify_helpers import Batch, Env, anchor_batch, make_credential, new_env, serve_app, write_json

from registry.chain.anvil import Anvil, start_anvil
from registry.chain.connection import connect, safe_url
from registry.chain.finality import FinalityRule
from registry.errors import ChainError, ConfigError
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.quorum import QuorumClient
from registry.verify.reader import ChainReader
from registry.verify.result import Status, VerificationResult
from registry.verify.service import create_app

HONEST: dict[str, Any] = {}
SAYS_NOT_REVOKED = {"rewrite": set_credential_status(0)}
SAYS_REVOKED = {"rewrite": set_credential_status(1)}
SAYS_SUSPENDED = {"rewrite": set_credential_status(2)}
OTHER_HASHES = {"rewrite": alter_hashes}
RATE_LIMITED = {"status": 429}
GARBAGE = {"garbage": True}
SLOW = {"delay": 3.0}
REGISTRY = [sys.executable, "-c", "from registry.cli.main import run; run()"]
JSON = {"Content-Type": "application/json"}


def _reader(urls: list[str], env: Env, quorum: int | None = None, **kw: Any) -> ChainReader:
    kw.setdefault("timeout", 1.0)
    kw.setdefault("staleness", 0.0)
    return ChainReader(urls, [env.address], quorum=quorum, **kw)


def _verify(
    urls: list[str], env: Env, config: VerifyConfig, doc: dict[str, Any], **kw: Any
) -> VerificationResult:
    reader = _reader(urls, env, **kw)
    try:
        return verify_credential(doc, reader, config)
    finally:
        reader.close()


def _chain_error(result: VerificationResult) -> tuple[str, dict[str, str]]:
    """The message and the endpoints of the chain checks of an indeterminate result."""
    assert result.status is Status.indeterminate
    anchored = next(c for c in result.checks if c.name == "anchored")
    assert anchored.status.value == "error"
    return anchored.message, anchored.details["endpoints"]


@pytest.fixture
def revoked(env: Env, batch: Batch) -> dict[str, Any]:
    """The second credential of the batch, revoked on chain (the first stays valid)."""
    env.revoke([batch.digests[1]])
    return batch.credentials[1]


def test_one_lying_endpoint_is_outvoted_both_ways(
    anvil: Anvil, env: Env, batch: Batch, config: VerifyConfig, revoked: dict[str, Any]
) -> None:
    valid = batch.credentials[0]
    assert _verify([anvil.url], env, config, revoked).status is Status.revoked  # what the chain says
    for liar, doc, truth in (
        (SAYS_NOT_REVOKED, revoked, Status.revoked),  # a revoked credential stays revoked
        (SAYS_REVOKED, valid, Status.valid),  # a valid one stays valid
        (OTHER_HASHES, revoked, Status.revoked),  # an endpoint of another chain does not vote
    ):
        for order in ((liar, HONEST, HONEST), (HONEST, liar, HONEST)):
            with proxies(anvil.url, *order) as ps:
                assert _verify([p.url for p in ps], env, config, doc).status is truth, (liar, order)
    # the liar alone would have won: the proxies really lie
    with proxies(anvil.url, SAYS_NOT_REVOKED) as (liar_alone,):
        assert _verify([liar_alone.url], env, config, revoked).status is Status.valid


def test_a_steady_chain_costs_one_round_trip_per_endpoint_and_batch(
    anvil: Anvil, env: Env, batch: Batch, config: VerifyConfig
) -> None:
    with proxies(anvil.url, HONEST, HONEST, HONEST) as ps:
        reader = _reader([p.url for p in ps], env)
        try:
            assert verify_credential(batch.credentials[0], reader, config).status is Status.valid
            rpc = reader.rpc
            assert isinstance(rpc, QuorumClient)
            assert rpc.stats["batches"] == 2  # lookup + head, then the anchor's log (as with one node)
            assert rpc.stats["second_rounds"] == 0
            assert all(p.round_trips <= rpc.stats["batches"] for p in ps)
            # the head and the bracket travel in the same batch as the calls
            first = ps[0].requests[0]
            assert first[0] == "eth_getBlockByNumber" and first[-1] == "eth_blockNumber"
            assert "eth_call" in first
        finally:
            reader.close()


def test_two_agreeing_liars_outvote_one_honest_the_honest_majority_assumption(
    anvil: Anvil, env: Env, config: VerifyConfig, revoked: dict[str, Any]
) -> None:
    """Documented limit: the quorum protects only while fewer than k endpoints lie together."""
    with proxies(anvil.url, SAYS_NOT_REVOKED, SAYS_NOT_REVOKED, HONEST) as ps:
        urls = [p.url for p in ps]
        assert _verify(urls, env, config, revoked).status is Status.valid  # 2 of 3 lied alike
        message, endpoints = _chain_error(_verify(urls, env, config, revoked, quorum=3))
        assert "no quorum of 3" in message and set(endpoints) == {safe_url(u) for u in urls}


def test_two_liars_that_disagree_are_indeterminate_naming_every_endpoint(
    anvil: Anvil, env: Env, config: VerifyConfig, revoked: dict[str, Any]
) -> None:
    with proxies(anvil.url, SAYS_NOT_REVOKED, SAYS_SUSPENDED, HONEST) as ps:
        urls = [p.url for p in ps]
        result = _verify(urls, env, config, revoked)
        message, endpoints = _chain_error(result)
        assert "no quorum of 2 chain endpoints on eth_call" in message
        for u in urls:
            assert safe_url(u) in message and endpoints[safe_url(u)].startswith("gave answer")
        assert "secret-key" not in json.dumps(result.model_dump(mode="json"))
        assert not result.verified


@pytest.mark.parametrize(
    ("broken", "what"),
    [
        ((None, None), "cannot reach the chain node"),
        ((RATE_LIMITED, None), "answered HTTP 429"),
        ((SLOW, RATE_LIMITED), "ReadTimeout|no answer within 1.5 s"),  # whichever bound fires first
        ((GARBAGE, None), "not JSON"),
    ],
)
def test_too_few_answers_are_indeterminate_naming_the_endpoints(
    anvil: Anvil, env: Env, config: VerifyConfig, revoked: dict[str, Any], broken: tuple[Any, Any], what: str
) -> None:
    """Down, rate-limited, slow or garbage: no vote, never "revoked" or "valid" by itself."""
    specs = [s for s in broken if s is not None]
    with proxies(anvil.url, HONEST, *specs) as ps:
        urls = [p.url for p in ps] + [down_url() for s in broken if s is None]
        message, endpoints = _chain_error(_verify(urls, env, config, revoked))
        assert "too few" in message or "no quorum of 2" in message
        assert re.search(what, message), message
        assert not endpoints[safe_url(urls[0])].startswith("failed")  # the honest one answered
        for u in urls[1:]:
            assert endpoints[safe_url(u)].startswith("failed: ") and safe_url(u) in message
        assert "secret-key" not in message


@pytest.mark.parametrize("broken", [None, RATE_LIMITED, SLOW, GARBAGE, OTHER_HASHES])
def test_one_broken_endpoint_only_fails_to_vote(
    anvil: Anvil, env: Env, batch: Batch, config: VerifyConfig, revoked: dict[str, Any], broken: Any
) -> None:
    with proxies(anvil.url, HONEST, HONEST, *([broken] if broken is not None else [])) as ps:
        urls = [p.url for p in ps] + ([down_url()] if broken is None else [])
        assert _verify(urls, env, config, revoked).status is Status.revoked
        assert _verify(urls, env, config, batch.credentials[0]).status is Status.valid


def test_an_endpoint_behind_pins_the_read_to_the_block_both_reached(
    anvil: Anvil, env: Env, batch: Batch, config: VerifyConfig
) -> None:
    """2 of 2, one a block behind: the reads are pinned to the block both have (a second round
    for the one ahead), so a revocation in the newest block shows once both have it."""
    with proxies(anvil.url, {"before": one_block_behind(anvil.url)}, HONEST) as ps:
        reader = _reader([p.url for p in ps], env)
        try:
            env.revoke([batch.digests[0]])  # mined in the newest block, which one endpoint lacks
            result = verify_credential(batch.credentials[0], reader, config)
            assert result.status is Status.valid  # the state at the block 2 endpoints reached
            rpc = reader.rpc
            assert isinstance(rpc, QuorumClient) and rpc.stats["second_rounds"] >= 1
            pinned = [r for r in ps[1].requests if r[0] == "eth_getBlockByNumber" and "eth_call" in r]
            assert len(pinned) >= 2  # round one, then the pinned round
            anvil.rpc("evm_mine")  # now the lagging endpoint has the revocation's block too
            assert verify_credential(batch.credentials[0], reader, config).status is Status.revoked
        finally:
            reader.close()


def test_the_follower_outvotes_an_endpoint_that_hides_or_forges_events(
    anvil: Anvil, env: Env, batch: Batch, config: VerifyConfig
) -> None:
    for liar in ({"rewrite": drop_logs}, OTHER_HASHES):
        e = new_env(env.w3)
        b = anchor_batch(e, [make_credential("Followed")])
        conf = VerifyConfig(trusted=frozenset({(e.chain_id, e.address)}))
        with proxies(anvil.url, liar, HONEST, HONEST) as ps:
            reader = _reader([p.url for p in ps], e, staleness=15.0, tip_blocks=2)
            try:
                reader.poll()
                assert reader.anchor_event(e.address, b.manifest.issuer, b.root) is not None
                assert verify_credential(b.credentials[0], reader, conf).status is Status.valid
                e.revoke([b.digests[0]])
                events = reader.poll()
                assert [ev.name for ev in events] == ["CredentialRevoked"], liar
                # the cached "valid" was dropped by the event: revoked at once
                assert verify_credential(b.credentials[0], reader, conf).status is Status.revoked
                assert reader.follower_fresh()
            finally:
                reader.close()


def test_a_follower_that_cannot_reach_a_quorum_names_the_liar_and_is_not_fresh(
    anvil: Anvil, env: Env, batch: Batch
) -> None:
    with proxies(anvil.url, {"rewrite": drop_logs}, HONEST, HONEST) as ps:
        reader = _reader([p.url for p in ps], env, quorum=3, staleness=15.0)
        try:
            with pytest.raises(ChainError) as caught:
                reader.poll()
            assert "eth_getLogs" in caught.value.message and safe_url(ps[0].url) in caught.value.message
            assert reader.last_error and not reader.follower_fresh()
        finally:
            reader.close()


def test_the_finalized_block_is_one_a_quorum_agrees_is_final() -> None:
    """A liar calling its head finalized does not make a fresh anchor final."""
    node = start_anvil(slots_in_an_epoch=1)  # finalized = head - 2
    try:
        env = new_env(connect(node.url))
        node.rpc("anvil_mine", "0x3")
        b = anchor_batch(env, [make_credential("Final Holder")])
        config = VerifyConfig(trusted=frozenset({(env.chain_id, env.address)}))
        with proxies(node.url, {"rewrite": finalized_is_latest(node.url)}, HONEST, HONEST) as ps:
            urls = [p.url for p in ps]
            with proxies(node.url, {"rewrite": finalized_is_latest(node.url)}) as (alone,):
                assert (
                    _verify([alone.url], env, config, b.credentials[0], finality="auto").status
                    is Status.valid
                )
            reader = _reader(urls, env, finality="auto")
            try:
                assert reader.finality_rule() is FinalityRule.finalized
                result = verify_credential(b.credentials[0], reader, config)
                assert result.status is Status.indeterminate  # not final, whatever the liar says
                anchored = next(c for c in result.checks if c.name == "anchored")
                assert "not finalized yet" in anchored.message
                assert anchored.details["final_block"] == env.w3.eth.block_number - 2
                node.rpc("anvil_mine", "0x2")
                assert verify_credential(b.credentials[0], reader, config).status is Status.valid
            finally:
                reader.close()
    finally:
        node.stop()


def _cli(
    tmp: Path, doc: dict[str, Any], extra_env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    env = newcomer_env()
    env["REGISTRY_DATA_DIR"] = str(tmp / ".registry")
    env.update(extra_env)
    f = write_json(tmp / "cred.json", doc)
    return subprocess.run(
        [*REGISTRY, "verify", str(f), *args], capture_output=True, text=True, timeout=120, cwd=tmp, env=env
    )


def test_cli_verify_reads_through_the_quorum_of_rpc_urls(
    anvil: Anvil, env: Env, batch: Batch, revoked: dict[str, Any], tmp_path: Path
) -> None:
    with proxies(anvil.url, SAYS_NOT_REVOKED, HONEST, HONEST) as ps:
        urls = ",".join(p.url for p in ps)
        res = _cli(tmp_path, revoked, {"REGISTRY_RPC_URLS": urls}, "--trusted", env.registry, "--json")
        assert res.returncode == 1, res.stderr
        assert json.loads(res.stdout)["status"] == "revoked"
        # the liar alone on the command line (--rpc-url replaces REGISTRY_RPC_URLS): it wins
        alone = _cli(
            tmp_path, revoked, {"REGISTRY_RPC_URLS": urls}, "--trusted", env.registry, "--rpc-url", ps[0].url
        )
        assert alone.returncode == 0, alone.stderr
    with proxies(anvil.url, HONEST) as (honest,):
        urls = ",".join([honest.url, down_url(), down_url()])
        res = _cli(tmp_path, batch.credentials[0], {"REGISTRY_RPC_URLS": urls}, "--trusted", env.registry)
        assert res.returncode == 3, res.stderr
        assert "INDETERMINATE" in res.stdout and "too few chain endpoints answered" in res.stdout
        for u in urls.split(","):
            assert safe_url(u) in res.stdout
        assert "secret-key" not in res.stdout + res.stderr


def test_the_service_reads_through_the_quorum(
    anvil: Anvil, env: Env, revoked: dict[str, Any], tmp_path: Path
) -> None:
    with proxies(anvil.url, SAYS_NOT_REVOKED, HONEST, HONEST) as ps:
        settings = load_settings(
            rpc_urls=[p.url for p in ps], trusted_registries=[env.registry], data_dir=tmp_path / ".registry"
        )
        with serve_app(create_app(settings)) as url:
            r = httpx.post(url + "/api/v1/verify", content=json.dumps(revoked), headers=JSON, timeout=30)
        assert r.status_code == 200 and r.json()["status"] == "revoked"
    with proxies(anvil.url, SAYS_NOT_REVOKED, SAYS_SUSPENDED, HONEST) as ps:
        settings = load_settings(
            rpc_urls=[p.url for p in ps], trusted_registries=[env.registry], data_dir=tmp_path / ".registry"
        )
        with serve_app(create_app(settings)) as url:
            r = httpx.post(url + "/api/v1/verify", content=json.dumps(revoked), headers=JSON, timeout=30)
        assert r.status_code == 503 and r.json()["status"] == "indeterminate"
        anchored = next(c for c in r.json()["checks"] if c["name"] == "anchored")
        assert set(anchored["details"]["endpoints"]) == {safe_url(p.url) for p in ps}
        assert "secret-key" not in r.text


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("REGISTRY_RPC_URLS", "REGISTRY_RPC_QUORUM", "REGISTRY_RPC_QUORUM_MINORITY"):
        monkeypatch.delenv(key, raising=False)
    yield


@pytest.mark.usefixtures("clean_env")
def test_settings_read_comma_separated_urls_and_a_majority_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGISTRY_RPC_URLS", " http://127.0.0.1:1/a , https://key:pw@rpc.example:8/v3/k ,")
    s = load_settings()
    assert (
        s.rpc_urls == ["http://127.0.0.1:1/a", "https://key:pw@rpc.example:8/v3/k"] and s.rpc_quorum is None
    )
    monkeypatch.setenv("REGISTRY_RPC_URLS", "http://a:1,http://b:2,http://c:3,http://d:4")
    assert load_settings().rpc_quorum is None
    assert load_settings(rpc_quorum=3).rpc_quorum == 3
    monkeypatch.setenv("REGISTRY_RPC_QUORUM_MINORITY", "true")
    assert load_settings(rpc_quorum=2).rpc_quorum == 2


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("urls", "quorum", "words"),
    [
        ("http://a:1,http://b:2,http://c:3", "1", "not a majority"),
        ("http://a:1,http://b:2,http://c:3,http://d:4", "2", "two disjoint sets"),
        ("http://a:1,http://b:2,http://c:3", "4", "between 1 and the number of endpoints (3)"),
        ("http://a:1,http://b:2", "0", "between 1 and the number of endpoints (2)"),
        ("http://a:1/secret-key-1,http://a:1/secret-key-2", None, "entries 1 and 2 are the same endpoint"),
        ("http://a:1,ftp://secret-key@b:2", None, "entry 2 is not an http:// or https:// URL"),
        ("http://a:1,not a url secret-key", None, "entry 2 is not an http"),
        (None, "2", "needs several endpoints in REGISTRY_RPC_URLS"),
        ("http://a:1,http://b:2", "two", "rpc_quorum"),
    ],
)
def test_settings_refuse_quorums_that_protect_nothing(
    monkeypatch: pytest.MonkeyPatch, urls: str | None, quorum: str | None, words: str
) -> None:
    if urls is not None:
        monkeypatch.setenv("REGISTRY_RPC_URLS", urls)
    if quorum is not None:
        monkeypatch.setenv("REGISTRY_RPC_QUORUM", quorum)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert words in str(caught.value) and "secret-key" not in str(caught.value)


def test_a_reader_refuses_a_bad_quorum_too(anvil: Anvil, env: Env) -> None:
    with pytest.raises(ConfigError, match="not a majority"):
        _reader([anvil.url, "http://127.0.0.1:9", "http://127.0.0.1:10"], env, quorum=1)
    with pytest.raises(ConfigError, match="listed twice"):
        _reader([anvil.url, anvil.url + "/x"], env)
    one = _reader([anvil.url], env)
    try:
        assert not isinstance(one.rpc, QuorumClient)  # one endpoint: the plain client
    finally:
        one.close()

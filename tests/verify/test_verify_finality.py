"""The verifier counts only final anchors (issue 17).

anvil with ``--slots-in-an-epoch 1`` and blocks on demand: its ``finalized`` block trails the head
by two blocks, so each test decides when an anchor becomes final and which blocks a reorg
(``evm_revert``) removes. Readers use the ``auto`` rule, which must pick ``finalized`` here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from verify_helpers import Env, anchor_batch, make_credential, new_env, serve_app

from registry.chain.anvil import Anvil, start_anvil
from registry.chain.connection import connect
from registry.chain.finality import FinalityRule
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.reader import ChainReader
from registry.verify.result import Status


@pytest.fixture
def node() -> Iterator[Anvil]:
    """anvil whose finalized block is head - 2; no block without a request."""
    a = start_anvil(slots_in_an_epoch=1)
    try:
        yield a
    finally:
        a.stop()


@pytest.fixture
def fenv(node: Anvil) -> Env:
    """A registry on that anvil, its finalized block already past the deployment."""
    env = new_env(connect(node.url))
    node.rpc("anvil_mine", "0x3")
    return env


def _reader(node: Anvil, env: Env, finality: str = "auto") -> ChainReader:
    return ChainReader(node.url, [env.address], staleness=15.0, timeout=5.0, finality=finality)


def _config(env: Env) -> VerifyConfig:
    return VerifyConfig(trusted=frozenset({(env.chain_id, env.address)}))


def test_auto_picks_the_finalized_rule_on_a_node_with_the_tag(node: Anvil, fenv: Env) -> None:
    assert _reader(node, fenv).finality_rule() is FinalityRule.finalized
    assert _reader(node, fenv, "depth").finality_rule() is FinalityRule.depth


def test_not_final_is_indeterminate_then_valid_once_finalized(node: Anvil, fenv: Env) -> None:
    batch = anchor_batch(fenv, [make_credential("Final Holder")])
    reader = _reader(node, fenv)
    try:
        result = verify_credential(batch.credentials[0], reader, _config(fenv))
        assert result.status is Status.indeterminate and not result.verified
        anchored = next(c for c in result.checks if c.name == "anchored")
        assert "not finalized yet" in anchored.message and anchored.details["finality"] == "finalized"
        assert result.anchor is not None and result.anchor.final is False
        node.rpc("anvil_mine", "0x1")  # finalized = head - 2: one block is not enough
        assert verify_credential(batch.credentials[0], reader, _config(fenv)).status is Status.indeterminate
        node.rpc("anvil_mine", "0x1")
        final = verify_credential(batch.credentials[0], reader, _config(fenv))
        assert final.status is Status.valid and final.anchor is not None and final.anchor.final is True
    finally:
        reader.close()


def test_depth_rule_counts_confirmations_on_the_same_chain(node: Anvil, fenv: Env) -> None:
    batch = anchor_batch(fenv, [make_credential("Depth Holder")])
    reader = _reader(node, fenv, "depth")
    try:
        assert verify_credential(batch.credentials[0], reader, _config(fenv)).status is Status.valid
    finally:
        reader.close()


def test_anchor_reorganised_away_before_finality_is_indeterminate_not_invalid(node: Anvil, fenv: Env) -> None:
    snap = node.rpc("evm_snapshot")
    batch = anchor_batch(fenv, [make_credential("Reorg Holder")])
    node.rpc("evm_revert", snap)  # the anchoring block is gone; it was never final
    node.rpc("anvil_mine", "0x1")
    reader = _reader(node, fenv)
    try:
        result = verify_credential(batch.credentials[0], reader, _config(fenv))
        assert result.status is Status.indeterminate
        anchored = next(c for c in result.checks if c.name == "anchored")
        assert "reorganised away" in anchored.message
        # once the block the proof names is below the finalized block, a missing anchor is invalid
        node.rpc("anvil_mine", "0x3")
        assert verify_credential(batch.credentials[0], reader, _config(fenv)).status is Status.invalid
    finally:
        reader.close()


def test_the_service_never_answers_valid_before_finality(node: Anvil, fenv: Env) -> None:
    import httpx

    from registry.settings import load_settings
    from registry.verify.service import create_app

    batch = anchor_batch(fenv, [make_credential("Service Holder")])
    settings = load_settings(rpc_url=node.url, trusted_registries=[fenv.registry], finality="auto")
    with serve_app(create_app(settings)) as url:
        r = httpx.post(f"{url}/api/v1/verify", json=batch.credentials[0], timeout=20)
        assert r.status_code == 503 and r.json()["status"] == "indeterminate"
        node.rpc("anvil_mine", "0x2")
        r = httpx.post(f"{url}/api/v1/verify", json=batch.credentials[0], timeout=20)
        assert r.status_code == 200 and r.json()["status"] == "valid", r.json()

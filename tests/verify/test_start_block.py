"""`start_block` (REGISTRY_START_BLOCK): event scans begin at the registry's deployment block."""

from __future__ import annotations

from verify_helpers import Batch, Env

from registry.chain.anvil import Anvil
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.reader import ChainReader
from registry.verify.result import Status
from registry.verify.session import build_reader


def test_reader_starting_at_the_anchor_block_still_finds_the_anchor(
    anvil: Anvil, batch: Batch, config: VerifyConfig
) -> None:
    reader = ChainReader(anvil.url, [], from_block=batch.block_number, timeout=5.0)
    try:
        res = verify_credential(batch.credentials[0], reader, config)
    finally:
        reader.close()
    assert res.status is Status.valid
    assert res.anchor is not None and res.anchor.block_number == batch.block_number


def test_reader_starting_after_the_anchor_block_does_not_invent_one(
    anvil: Anvil, batch: Batch, config: VerifyConfig
) -> None:
    # The batch is on chain, but its BatchAnchored event lies before the configured start block:
    # the verifier must not call the credential valid without having read the anchor event.
    reader = ChainReader(anvil.url, [], from_block=batch.block_number + 1, timeout=5.0)
    try:
        res = verify_credential(batch.credentials[0], reader, config)
    finally:
        reader.close()
    assert res.status is not Status.valid and not res.verified


def test_service_reader_takes_start_block_from_settings(env: Env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REGISTRY_START_BLOCK", "7")
    settings = load_settings(rpc_url="http://127.0.0.1:1")
    assert settings.start_block == 7
    reader = build_reader(settings, VerifyConfig(trusted=frozenset({(env.chain_id, env.address)})))
    try:
        assert reader.from_block == 7 and reader.next_block == 7
    finally:
        reader.close()

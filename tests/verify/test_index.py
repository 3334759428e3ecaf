"""Bare documents and bare digests: the digest index built from BatchAnchored events + manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import newcomer_env
from verify_helpers import Batch, Env, anchor_batch, make_credential, serve_app, wait_for, write_json

from registry.chain.anvil import Anvil
from registry.core.canonical import document_digest
from registry.core.formats import Manifest
from registry.ipfs import LocalStore
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential, verify_digest
from registry.verify.index import DigestIndex
from registry.verify.reader import ChainReader
from registry.verify.result import CheckStatus, Status
from registry.verify.service import create_app

JSON = {"Content-Type": "application/json"}  # the API takes JSON content types only


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def pinned(env: Env, store: LocalStore) -> Batch:
    """A batch whose manifest is pinned to the store."""
    return anchor_batch(env, [make_credential(f"Bare {i}") for i in range(5)], store=store)


@pytest.fixture
def index(reader: ChainReader, store: LocalStore) -> DigestIndex:
    return DigestIndex(reader, store)


def test_bare_document_and_digest_verify_through_the_index(
    pinned: Batch, reader: ChainReader, index: DigestIndex, config: VerifyConfig
) -> None:
    reader.poll()
    assert index.caught_up()
    res = verify_credential(pinned.bare[2], reader, config, index=index)
    assert res.status is Status.valid, [(c.name, c.message) for c in res.checks]
    assert res.check("merkle_inclusion").details["via"] == "index"
    assert res.anchor is not None and res.anchor.transaction_hash == pinned.tx_hash
    d = verify_digest(pinned.digests[4], reader, config, index=index)
    assert d.status is Status.valid
    assert d.check("format").status is CheckStatus.skipped
    assert d.check("validity_window").status is CheckStatus.skipped


def test_unknown_bare_document_is_invalid_once_caught_up_indeterminate_before(
    pinned: Batch, reader: ChainReader, index: DigestIndex, config: VerifyConfig
) -> None:
    stranger = make_credential("Never issued")
    early = verify_credential(stranger, reader, config, index=index)  # follower has not run yet
    assert early.status is Status.indeterminate
    reader.poll()
    res = verify_credential(stranger, reader, config, index=index)
    assert res.status is Status.invalid
    assert res.check("merkle_inclusion").status is CheckStatus.failed
    # a changed copy of an issued credential is not found either
    changed = dict(pinned.bare[0])
    changed["validUntil"] = "2199-01-01T00:00:00Z"
    assert verify_credential(changed, reader, config, index=index).status is Status.invalid


def test_bare_document_sees_revocation(
    env: Env, pinned: Batch, reader: ChainReader, index: DigestIndex, config: VerifyConfig
) -> None:
    reader.poll()
    env.revoke([pinned.digests[1]])
    reader.poll()
    assert verify_credential(pinned.bare[1], reader, config, index=index).status is Status.revoked


def test_missing_manifest_stays_pending_until_it_appears(
    env: Env, reader: ChainReader, store: LocalStore, index: DigestIndex, config: VerifyConfig
) -> None:
    late = anchor_batch(env, [make_credential("Late manifest")])  # manifest not pinned
    reader.poll()
    assert not index.caught_up() and len(index.pending) == 1
    assert verify_credential(late.bare[0], reader, config, index=index).status is Status.indeterminate
    store.put(late.manifest.to_bytes())
    index.sync()
    assert index.caught_up()
    assert verify_credential(late.bare[0], reader, config, index=index).status is Status.valid


def test_manifest_that_does_not_rebuild_the_root_is_rejected(
    env: Env, reader: ChainReader, store: LocalStore, index: DigestIndex, config: VerifyConfig
) -> None:
    victim = make_credential("Victim")
    decoy = Manifest.build(env.registry, env.issuer.address, [document_digest(victim), b"\x07" * 32])
    # anchor some other root but point at a manifest that lists the victim
    cid = store.put(decoy.to_bytes())
    env.tx(env.issuer, env.reg.functions.anchor(b"\x09" * 32, 2, cid))
    reader.poll()
    assert len(index.rejected) == 1
    assert verify_credential(victim, reader, config, index=index).status is Status.invalid


def test_bare_digest_through_the_api_and_readiness(
    anvil: Anvil, env: Env, store: LocalStore, pinned: Batch
) -> None:
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], store_dir=store.root, cache_staleness=2.0
    )
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as api:
        assert wait_for(lambda: api.get("/readyz").status_code == 200, timeout=20)
        assert api.get("/readyz").json()["index"] is True
        r = api.get(f"/api/v1/credentials/0x{pinned.digests[0].hex()}")
        assert r.status_code == 200 and r.json()["status"] == "valid"
        r = api.get("/api/v1/credentials/0x" + "42" * 32)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        r = api.post("/api/v1/verify", content=json.dumps(pinned.bare[3]), headers=JSON)
        assert r.status_code == 200 and r.json()["status"] == "valid"
        r = api.get("/metrics")
        assert "registry_indexed_batches 1.0" in r.text
        # a bare document unknown now becomes valid once its batch is anchored and indexed
        fresh = make_credential("Anchored later")
        r = api.post("/api/v1/verify", content=json.dumps(fresh), headers=JSON)
        assert r.status_code == 200 and r.json()["status"] == "invalid"
        anchor_batch(env, [fresh], store=store)
        assert wait_for(
            lambda: (
                api.post("/api/v1/verify", content=json.dumps(fresh), headers=JSON).json()["status"]
                == "valid"
            ),
            timeout=30,
        )


def test_bare_document_through_the_cli(
    anvil: Anvil, env: Env, store: LocalStore, pinned: Batch, tmp_path: Path
) -> None:
    import subprocess
    import sys

    f = write_json(tmp_path / "bare.json", pinned.bare[0])
    e: dict[str, Any] = newcomer_env()
    e["REGISTRY_STORE_DIR"] = str(store.root)
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "from registry.cli.main import run; run()",
            "verify",
            str(f),
            "--rpc-url",
            anvil.url,
            "--trusted",
            env.registry,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=e,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["status"] == "valid"

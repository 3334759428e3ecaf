"""``registry dev``'s demo credentials are signed: two ``did:key`` issuers and one ``did:web`` issuer
whose DID document the demo's own verification service serves.

In process, everything real: anvil, the issuer pipeline, uvicorn on 127.0.0.1 (the did:web DID
document fetched over plain http from it, as the demo allows on loopback only), the CLI verifier
in a child process, and the npm oracle (@digitalbazaar/vc, the VC 2.0 / OB 3.0 schemas, jsonld.js).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dev_kit import ROOT, chain_facts, dev_env
from oracles.pipeline_check import assert_standard_credentials

from registry.dev.demo import sample_credential
from registry.dev.devnet import Devnet, DevOptions, IssuerRun
from registry.settings import load_settings
from registry.signing.did import did_web_document

pytestmark = pytest.mark.slow
OPTIONS = {"count": 9, "batch_size": 3, "port": 0, "chain_port": 0}


@pytest.fixture
def devnets() -> Iterator[list[Devnet]]:
    """Every Devnet a test starts; closed (anvil stopped, its state written) whatever happens."""
    started: list[Devnet] = []
    try:
        yield started
    finally:
        for d in started:
            d.close()


def _devnet(data: Path, devnets: list[Devnet], lines: list[str], **options: Any) -> Devnet:
    dev = Devnet(load_settings(data_dir=data), DevOptions(**{**OPTIONS, **options}), say=lines.append)
    devnets.append(dev)
    return dev


def _proof_files(dev: Devnet) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(dev.settings.resolved_output_dir.resolve().rglob("0x*.json"))}


def _first_proof(run: IssuerRun) -> Path:
    from registry.core.canonical import document_digest

    return run.proofs_dir / f"0x{document_digest(sample_credential(run.demo, 0, run.did)).hex()}.json"


def _checks(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in result["checks"]}


def _cli_verify(path: Path, dev: Devnet) -> subprocess.CompletedProcess[str]:
    env = dev_env(dev.data_dir, REGISTRY_DID_WEB_ALLOW_HTTP_LOOPBACK="true")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "registry"), "verify", str(path), "--rpc-url", dev.state.rpc_url,
         "--contract", dev.state.address],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_demo_issuers_sign_and_the_service_serves_the_did_web_document(
    tmp_path: Path, devnets: list[Devnet]
) -> None:
    data = tmp_path / "data"
    lines: list[str] = []
    dev = _devnet(data, devnets, lines)
    state = dev.setup()
    base = dev.start_service()
    dev.verify_example()
    web = [r for r in state.issuers if r.demo.did_method == "web"]
    keys = [r for r in state.issuers if r.demo.did_method == "key"]
    assert len(web) == 1 and len(keys) == 2
    (w,) = web
    port = int(base.rsplit(":", 1)[1].strip("/"))
    assert w.did == f"did:web:127.0.0.1%3A{port}:issuers:{w.demo.slug}" == w.signing.did
    assert all(r.did.startswith("did:key:z6Mk") for r in keys)

    # the demo says which issuer is which, and shows the valid example (the did:web issuer's)
    # verified through the service: issuer bound to its DID, signature and domain check passed
    out = "\n".join(lines + dev.next_steps())
    assert f"did:web, DID document at {base}issuers/{w.demo.slug}/did.json" in out
    assert out.count("did:key (the DID is the public key") == 2 and "DEMO keys" in out
    assert state.examples["valid"] == str(_first_proof(w))
    assert state.example_check == {
        "status": "valid", "signature": "passed", "domain": "confirmed", "issuer_binding": "passed"
    }  # fmt: skip
    assert "  signature: passed: " in out and "lists the anchoring account" in out

    # the served DID document: the key and the anchoring account, the file the demo wrote
    r = httpx.get(f"{base}issuers/{w.demo.slug}/did.json", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "application/did+json"
    served = r.json()
    assert served == did_web_document(
        w.did, w.signing.public_multikey, chain_id=state.chain_id, address=w.account.address
    )
    assert served == json.loads((dev.did_documents_dir() / "issuers" / w.demo.slug / "did.json").read_text())
    verifier = dev.server.config.app.state.verifier
    assert verifier.settings.did_web_allow_http_loopback is True
    used = verifier.resolver.cached(w.did)
    assert used is not None and used.document == served  # what the verifier resolved the DID to
    for bad in ("issuers/nobody/did.json", "issuers/%2e%2e/%2e%2e/devnet/did.json", "did.json"):
        r = httpx.get(base + bad, timeout=10)
        assert r.status_code == 404, bad
    r = httpx.get(f"{base}issuers/nobody/did.json", timeout=10)
    assert r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "not_found"
    assert httpx.post(f"{base}issuers/{w.demo.slug}/did.json", timeout=10).status_code == 405

    # every issuer: [eddsa-rdfc-2022 signature by its DID, anchor proof]; valid, signature passed
    for run in state.issuers:
        doc = json.loads(_first_proof(run).read_text())
        assert isinstance(doc["proof"], list) and len(doc["proof"]) == 2
        sig, anchor = doc["proof"]
        assert sig["type"] == "DataIntegrityProof" and sig["cryptosuite"] == "eddsa-rdfc-2022"
        assert sig["verificationMethod"].split("#")[0] == run.did == doc["issuer"]["id"]
        assert sig["created"] == doc["validFrom"]  # deterministic: the same signature on every run
        assert (anchor["type"], anchor["cryptosuite"]) == ("DataIntegrityProof", "registry-anchor-2026")
        res = httpx.post(base + "api/v1/verify", json=doc, timeout=60).json()
        checks = _checks(res)
        assert res["status"] == "valid", res
        assert checks["signature"]["status"] == "passed" and checks["issuer_binding"]["status"] == "passed"
        assert run.did in checks["signature"]["message"]
        assert checks["signature"]["details"].get("domain") == ("confirmed" if run is w else None)

    # the CLI verifier, which has no cache, fetches the served document: a DID document that
    # stops listing the anchoring account makes the did:web issuer's credential invalid
    valid = Path(state.examples["valid"])
    ok = _cli_verify(valid, dev)
    assert ok.returncode == 0 and "signature: passed" in ok.stdout, ok.stdout + ok.stderr
    did_json = dev.did_documents_dir() / "issuers" / w.demo.slug / "did.json"
    original = did_json.read_bytes()
    denied = {**served, "verificationMethod": served["verificationMethod"][:1],
              "assertionMethod": served["assertionMethod"][:1]}  # fmt: skip
    did_json.write_text(json.dumps(denied))
    bad = _cli_verify(valid, dev)
    did_json.write_bytes(original)
    assert bad.returncode == 1 and "does not list the anchoring account" in bad.stdout, bad.stdout

    # the demo credentials as written pass the standards' own tools: the OB 3.0 and VC 2.0
    # schemas, jsonld.js safe mode (anchor proof included), and @digitalbazaar/vc verifies each
    # eddsa-rdfc-2022 proof (the did:web DID document handed to its offline loader)
    files = _proof_files(dev)
    assert len(files) == 9
    report = assert_standard_credentials(list(files), require_signature=True, documents={w.did: served})
    assert all(checks[-1] == "verify" for checks in report.checked.values())
    facts = chain_facts(dev.summary())
    dev.close()
    devnets.remove(dev)

    # --- a rerun on the same data dir issues nothing new: same files, same chain ---------------
    lines2: list[str] = []
    again = _devnet(data, devnets, lines2, serve=False)
    state2 = again.setup()
    assert [r.did for r in state2.issuers] == [r.did for r in state.issuers]  # the port is remembered
    assert sum("(none new, 3 issued before); anchored now 0 in 0 batch(es)" in line for line in lines2) == 3
    assert _proof_files(again) == files  # byte for byte, signatures included
    assert chain_facts(again.summary()) == facts  # no new anchor, no new transaction


def _change_did_web_port(data: Path) -> None:
    """As if the data dir came from another demo: the did:web issuer's DID no longer matches the
    URI it is registered with (the same as a data dir from before the issuers had DIDs)."""
    path = data / "devnet" / "did-web.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "port": record["port"] % 60000 + 1}))


def test_a_registration_under_another_uri_starts_over_on_the_local_chain(
    tmp_path: Path, devnets: list[Devnet]
) -> None:
    data = tmp_path / "data"
    first = _devnet(data, devnets, [], serve=False, count=3)
    old = first.setup()
    first.close()
    devnets.remove(first)
    _change_did_web_port(data)

    lines: list[str] = []
    again = _devnet(data, devnets, lines, count=3)
    state = again.setup()
    out = "\n".join(lines)
    assert "is registered with URI 'did:web:127.0.0.1%3A" in out and "before the demo issuers had DIDs" in out
    assert state.address != old.address and state.deployed_now  # a new registry, DIDs registered
    assert list(data.glob("lost-chain-*/proofs"))  # the old data kept aside
    base = again.start_service()
    assert again.verify_example()["status"] == "valid"
    assert again.state.example_check["signature"] == "passed" and base.endswith(
        f":{json.loads((data / 'devnet' / 'did-web.json').read_text())['port']}/"
    )


def test_external_chain_keeps_signing_keys_in_keystores_and_says_what_to_do_on_a_uri_change(
    tmp_path: Path, devnets: list[Devnet]
) -> None:
    from pydantic import SecretStr

    from registry.chain.anvil import DEV_KEYS, start_anvil
    from registry.errors import ConfigError
    from registry.signing.keys import decrypt_signing_keystore, signing_key

    node = start_anvil(fast_finality=True)
    try:
        data = tmp_path / "data"

        def settings() -> Any:
            return load_settings(data_dir=data, rpc_url=node.url, private_key=SecretStr(DEV_KEYS[6]))

        dev = Devnet(settings(), DevOptions(**{**OPTIONS, "count": 3, "serve": False}), say=lambda _m: None)
        devnets.append(dev)
        state = dev.setup()
        keys = data / "devnet" / "keys"
        password = (keys / "password").read_text().strip()
        for run in state.issuers:
            path = keys / f"{run.demo.slug}.signing.json"
            stored = json.loads(path.read_text())
            assert stored["keyType"] == "Ed25519" and "crypto" in stored
            assert oct(path.stat().st_mode & 0o777) == "0o600"
            seed = decrypt_signing_keystore(path, password)
            assert seed == run.signing.seed
            if run.demo.did_method == "key":
                assert run.did == signing_key(seed).did  # a random key: not the public demo seed
        files = _proof_files(dev)
        dev.close()
        devnets.remove(dev)

        again = Devnet(settings(), DevOptions(**{**OPTIONS, "count": 3, "serve": False}), say=lambda _m: None)
        devnets.append(again)
        again.setup()
        assert _proof_files(again) == files  # the same keys again: the same signatures
        again.close()
        devnets.remove(again)

        _change_did_web_port(data)
        third = Devnet(settings(), DevOptions(**{**OPTIONS, "count": 3, "serve": False}), say=lambda _m: None)
        devnets.append(third)
        with pytest.raises(ConfigError) as err:
            third.setup()
        assert "cannot change an issuer's URI: remove" in err.value.message
        assert str(data / "devnet" / "deployment-") in err.value.message
    finally:
        node.stop()

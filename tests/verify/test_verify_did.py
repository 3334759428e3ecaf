"""Issue 12, item 4 and the verifier side of item 7: the issuer bound to its DID.

Every case anchors real credentials on anvil; signatures are real ``eddsa-rdfc-2022`` proofs; the
did:web DID documents are served by a real HTTPS server on 127.0.0.1 whose certificate a trustme
CA signed. Each impersonation case runs over the core, and over ``registry verify`` for the
sentence a person reads.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from did_helpers import (
    CREATED,
    DidWebServer,
    IssuerKey,
    anchor_signed,
    did_web_document,
    did_web_server,
    key_of,
    sign,
    vc,
)
from eth_account.signers.local import LocalAccount
from helpers import DEV_ACCOUNTS, newcomer_env
from memory_chain import (
    ANCHORED_AT,
    CONFIG,
    ISSUER,
    NOW,
    MemoryChain,
    MemoryIndex,
    anchored,
    credential,
    index_hit,
)
from verify_helpers import Env, serve_app, write_json

from registry.chain.anvil import Anvil, free_port
from registry.core.canonical import document_digest
from registry.core.dataintegrity.eddsa_rdfc_2022 import create_proof
from registry.dids import DidResolver, WebLimits, did_web_url
from registry.dids.document import check_did_document
from registry.errors import ChainError, DataIntegrityError
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential, verify_digest
from registry.verify.index import Resolution
from registry.verify.reader import ChainReader, IssuerRecord
from registry.verify.result import CheckStatus, Status, VerificationResult
from registry.verify.service import create_app

DID_ISSUER: LocalAccount = DEV_ACCOUNTS[5]
OTHER_DID_ISSUER: LocalAccount = DEV_ACCOUNTS[6]
ALICE, BOB, MALLORY = key_of(11), key_of(12), key_of(13)


def _cli(
    path: Path, rpc: str, env: Env, *extra: str, ca: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environ = newcomer_env()
    environ["REGISTRY_DATA_DIR"] = str(path.parent / ".registry")
    if ca is not None:
        environ["REGISTRY_DID_WEB_CA_BUNDLE"] = str(ca)
    cmd = [sys.executable, "-c", "from registry.cli.main import run; run()"]
    args = ["verify", str(path), "--rpc-url", rpc, "--trusted", env.registry, *extra]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=120, cwd=path.parent, env=environ
    )


def _line(out: str, check: str) -> str:
    """The printed line of one check."""
    return next(line for line in out.splitlines() if f"[{check}: " in line)


def _others(res: VerificationResult, *names: str) -> None:
    """Every check but ``names`` passed (and ``credential_status``: these carry no credentialStatus)."""
    assert res.check("credential_status").status is CheckStatus.skipped
    assert [
        c.name for c in res.checks if c.status is not CheckStatus.passed and c.name != "credential_status"
    ] == list(names), [
        c.message for c in res.checks
    ]


@pytest.fixture
def alice(env: Env) -> IssuerKey:
    """DID_ISSUER registered with Alice's did:key."""
    env.register(DID_ISSUER, "Alice College", ALICE.did)
    return ALICE


@pytest.fixture
def web(tmp_path: Path) -> Iterator[DidWebServer]:
    with did_web_server(tmp_path) as server:
        yield server


@pytest.fixture
def resolver(web: DidWebServer) -> Iterator[DidResolver]:
    r = DidResolver(WebLimits(timeout=2.0, ca_bundle=str(web.ca_file)))
    try:
        yield r
    finally:
        r.close()


def _web_key(server: DidWebServer) -> IssuerKey:
    return IssuerKey(bytes([21]) * 32, did=server.did, fragment="key-1")


# -- did:key --------------------------------------------------------------------------------------
def test_a_did_key_signed_credential_anchored_by_its_issuer_is_valid(
    anvil: Anvil, env: Env, alice: IssuerKey, reader: ChainReader, config: VerifyConfig, tmp_path: Path
) -> None:
    body = vc(alice.did)
    cred = anchor_signed(env, [(body, sign(body, alice))], issuer=DID_ISSUER).credentials[0]
    res = verify_credential(cred, reader, config)
    assert res.status is Status.valid, [c.message for c in res.checks]
    _others(res)
    sig = res.check("signature")
    assert alice.vm in sig.message and "eddsa-rdfc-2022" in sig.message
    assert sig.details["verification_methods"] == [alice.vm]
    assert alice.did in res.check("issuer_binding").message
    out = _cli(write_json(tmp_path / "signed.json", cred), anvil.url, env, "--require-signature")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[signature: passed]" in out.stdout and "[issuer_binding: passed]" in out.stdout


def test_a_credential_naming_another_issuers_did_is_invalid(
    anvil: Anvil, env: Env, alice: IssuerKey, reader: ChainReader, config: VerifyConfig, tmp_path: Path
) -> None:
    # Bob is a registered issuer too; Alice's account anchors a body that says it is Bob's
    env.register(OTHER_DID_ISSUER, "Bob Institute", BOB.did)
    for signed in (False, True):
        body = vc(BOB.did)
        sig = sign(body, alice) if signed else None
        cred = anchor_signed(env, [(body, sig)], issuer=DID_ISSUER).credentials[0]
        res = verify_credential(cred, reader, config)
        assert res.status is Status.invalid
        binding = res.check("issuer_binding")
        assert binding.status is CheckStatus.failed
        assert (
            BOB.did in binding.message and ALICE.did in binding.message and "Alice College" in binding.message
        )
        assert res.check("issuer").status is CheckStatus.passed  # the anchoring account is registered
        if sig is not None:  # and Alice's key is not Bob's
            assert res.check("signature").status is CheckStatus.failed
            assert "a key outside the document's issuer DID" in res.check("signature").message
    out = _cli(write_json(tmp_path / "bob.json", cred), anvil.url, env)
    assert out.returncode == 1 and "INVALID" in out.stdout
    line = _line(out.stdout, "issuer_binding")
    assert "failed" in line and BOB.did in line and ALICE.did in line


def test_a_signature_by_a_key_outside_the_issuers_did_is_invalid(
    anvil: Anvil, env: Env, alice: IssuerKey, reader: ChainReader, config: VerifyConfig, tmp_path: Path
) -> None:
    body = vc(alice.did)
    # Mallory signs as herself; then as Alice's verification method (the key does not match)
    as_mallory = anchor_signed(env, [(body, sign(body, MALLORY))], issuer=DID_ISSUER).credentials[0]
    as_alice = anchor_signed(env, [(vc(alice.did), None)], issuer=DID_ISSUER).credentials[0]
    bare = {k: v for k, v in as_alice.items() if k != "proof"}
    as_alice["proof"] = [sign(bare, MALLORY, vm=alice.vm), *as_alice["proof"]]
    res = verify_credential(as_mallory, reader, config)
    assert res.status is Status.invalid
    _others(res, "signature")
    msg = res.check("signature").message
    assert MALLORY.vm in msg and "a key outside the document's issuer DID " + alice.did in msg
    res2 = verify_credential(as_alice, reader, config)
    assert res2.status is Status.invalid and "does not verify" in res2.check("signature").message
    out = _cli(write_json(tmp_path / "mallory.json", as_mallory), anvil.url, env)
    assert out.returncode == 1
    assert "[signature: failed]" in out.stdout and MALLORY.vm in _line(out.stdout, "signature")


def test_a_tampered_signature_is_invalid(
    anvil: Anvil, env: Env, alice: IssuerKey, reader: ChainReader, config: VerifyConfig, tmp_path: Path
) -> None:
    body = vc(alice.did)
    good = anchor_signed(env, [(body, sign(body, alice))], issuer=DID_ISSUER).credentials[0]
    flipped = copy.deepcopy(good)
    pv = flipped["proof"][0]["proofValue"]
    flipped["proof"][0]["proofValue"] = pv[:-2] + ("2" if pv[-2] != "2" else "3") + pv[-1]
    redated = copy.deepcopy(good)  # the signed proof options changed: the signature no longer covers them
    redated["proof"][0]["created"] = "2027-01-01T00:00:00Z"
    for cred in (flipped, redated):
        res = verify_credential(cred, reader, config)
        assert res.status is Status.invalid
        _others(res, "signature")
        assert "the Ed25519 signature by " + alice.vm + " does not verify" in res.check("signature").message
    out = _cli(write_json(tmp_path / "flipped.json", flipped), anvil.url, env)
    assert out.returncode == 1 and "does not verify" in _line(out.stdout, "signature")


def test_require_signature_makes_an_unsigned_credential_invalid(
    anvil: Anvil, env: Env, alice: IssuerKey, reader: ChainReader, config: VerifyConfig, tmp_path: Path
) -> None:
    cred = anchor_signed(env, [(vc(alice.did), None)], issuer=DID_ISSUER).credentials[0]
    plain = verify_credential(cred, reader, config)
    assert plain.status is Status.valid and plain.check("signature").status is CheckStatus.skipped
    strict = verify_credential(cred, reader, replace(config, require_signature=True))
    assert strict.status is Status.invalid
    assert (
        strict.check("signature").message
        == "The document carries no issuer signature. This verifier requires one."
    )
    path = write_json(tmp_path / "unsigned.json", cred)
    assert _cli(path, anvil.url, env).returncode == 0
    out = _cli(path, anvil.url, env, "--require-signature")
    assert out.returncode == 1 and "This verifier requires one." in _line(out.stdout, "signature")


# -- did:web --------------------------------------------------------------------------------------
def _web_credential(env: Env, web: DidWebServer, *, signed: bool = True) -> tuple[dict[str, Any], IssuerKey]:
    key = _web_key(web)
    env.register(DID_ISSUER, "Web University", web.did)
    body = vc(web.did)
    cred = anchor_signed(env, [(body, sign(body, key) if signed else None)], issuer=DID_ISSUER).credentials[0]
    return cred, key


def _account(env: Env) -> str:
    return f"eip155:{env.chain_id}:{DID_ISSUER.address}"


def test_a_did_web_issuer_whose_domain_lists_the_anchoring_account_is_valid(
    env: Env, web: DidWebServer, resolver: DidResolver, reader: ChainReader, config: VerifyConfig
) -> None:
    cred, key = _web_credential(env, web)
    web.serve(did_web_document(web.did, key, [_account(env).lower()]))  # CAIP-10 addresses: any case
    res = verify_credential(cred, reader, config, resolver=resolver)
    assert res.status is Status.valid, [c.message for c in res.checks]
    _others(res)
    sig = res.check("signature")
    assert sig.details["domain"] == "confirmed" and "lists the anchoring account" in sig.message
    assert key.vm in sig.message
    # resolved once per TTL: a second verification fetches nothing
    assert verify_credential(cred, reader, config, resolver=resolver).status is Status.valid
    assert web.hits == ["/.well-known/did.json"]


def test_a_did_web_document_that_does_not_list_the_anchoring_account_is_invalid(
    anvil: Anvil,
    env: Env,
    web: DidWebServer,
    resolver: DidResolver,
    reader: ChainReader,
    config: VerifyConfig,
    tmp_path: Path,
) -> None:
    cred, key = _web_credential(env, web)
    web.serve(did_web_document(web.did, key, [f"eip155:{env.chain_id}:{OTHER_DID_ISSUER.address}"]))
    res = verify_credential(cred, reader, config, resolver=resolver)
    assert res.status is Status.invalid
    _others(res, "signature")
    sig = res.check("signature")
    assert sig.details["domain"] == "denied"
    assert f"does not list the anchoring account {_account(env)}" in sig.message
    out = _cli(write_json(tmp_path / "denied.json", cred), anvil.url, env, ca=web.ca_file)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "does not confirm the account that anchored this credential" in _line(out.stdout, "signature")


def test_a_did_web_key_not_listed_as_assertion_method_is_invalid(
    env: Env, web: DidWebServer, resolver: DidResolver, reader: ChainReader, config: VerifyConfig
) -> None:
    cred, key = _web_credential(env, web)
    web.serve(did_web_document(web.did, key, [_account(env)], assert_key=False))
    res = verify_credential(cred, reader, config, resolver=resolver)
    assert res.status is Status.invalid
    assert "not listed under assertionMethod" in res.check("signature").message


def test_an_unreachable_did_web_document_leaves_the_chain_verdict(
    anvil: Anvil, env: Env, web: DidWebServer, reader: ChainReader, config: VerifyConfig, tmp_path: Path
) -> None:
    cred, _ = _web_credential(env, web)
    web.stop()  # the domain is down
    resolver = DidResolver(WebLimits(timeout=2.0, ca_bundle=str(web.ca_file)))
    res = verify_credential(cred, reader, config, resolver=resolver)
    assert res.status is Status.valid  # the chain's answer stands
    sig = res.check("signature")
    assert sig.status is CheckStatus.skipped and sig.details["domain"] == "unreachable"
    assert (
        f"The DID document of {web.did} was not obtained" in sig.message
        and "cannot be reached" in sig.message
    )
    required = verify_credential(cred, reader, replace(config, require_domain=True), resolver=resolver)
    assert required.status is Status.indeterminate
    assert required.check("signature").status is CheckStatus.error
    assert "requires the domain check" in required.check("signature").message
    resolver.close()
    path = write_json(tmp_path / "down.json", cred)
    out = _cli(path, anvil.url, env, ca=web.ca_file)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[signature: skipped]" in out.stdout and "was not obtained" in _line(out.stdout, "signature")
    out = _cli(path, anvil.url, env, "--require-domain", ca=web.ca_file)
    assert out.returncode == 3 and "[signature: error]" in out.stdout


def test_an_unverifiable_did_web_document_is_reported_not_decisive(
    env: Env, web: DidWebServer, resolver: DidResolver, reader: ChainReader, config: VerifyConfig
) -> None:
    cred, key = _web_credential(env, web)
    web.serve({**did_web_document(web.did, key, [_account(env)]), "id": "did:web:elsewhere.example"})
    res = verify_credential(cred, reader, config, resolver=resolver)
    assert res.status is Status.valid
    assert "is not its DID document" in res.check("signature").message


def test_the_service_resolves_a_did_web_once_and_answers_warm(
    anvil: Anvil, env: Env, web: DidWebServer
) -> None:
    cred, key = _web_credential(env, web)
    web.serve(did_web_document(web.did, key, [_account(env)]))
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], rpc_timeout=3.0, did_web_ca_bundle=web.ca_file
    )
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as api:
        for _ in range(3):
            body = api.post("/api/v1/verify", json=cred).json()
            assert body["status"] == "valid", body["checks"]
            assert [c["name"] for c in body["checks"]][5:8] == ["issuer", "issuer_binding", "signature"]
        assert web.hits == ["/.well-known/did.json"]
        tampered = copy.deepcopy(cred)
        tampered["proof"][0]["created"] = "2027-01-01T00:00:00Z"
        body = api.post("/api/v1/verify", json=tampered).json()
        assert body["status"] == "invalid"
        assert "does not verify" in next(c for c in body["checks"] if c["name"] == "signature")["message"]


# -- the resolver ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"),
        ("did:web:example.com%3A3000:u", "https://example.com:3000/u/did.json"),
    ],
)
def test_did_web_urls_follow_the_method_spec(did: str, url: str) -> None:
    assert did_web_url(did) == url


@pytest.mark.parametrize(
    "did",
    [
        "did:web:",
        "did:web:a..b",
        "did:web:x.example:..",
        "did:web:x.example%3A99999",
        "did:web:x#k",
        "did:key:z",
    ],
)
def test_malformed_did_web_is_refused(did: str) -> None:
    with pytest.raises(DataIntegrityError):
        did_web_url(did)


def test_plain_http_only_for_loopback_and_only_when_allowed() -> None:
    assert did_web_url("did:web:localhost%3A8000") == "https://localhost:8000/.well-known/did.json"
    assert (
        did_web_url("did:web:localhost%3A8000", allow_http_loopback=True)
        == "http://localhost:8000/.well-known/did.json"
    )
    assert did_web_url("did:web:127.0.0.1", allow_http_loopback=True).startswith("http://127.0.0.1/")
    assert did_web_url("did:web:uni.example", allow_http_loopback=True).startswith("https://")


def test_the_resolver_bounds_what_a_domain_can_send(web: DidWebServer) -> None:
    doc = did_web_document(web.did, None, [])
    r = DidResolver(WebLimits(timeout=2.0, max_bytes=2048, ca_bundle=str(web.ca_file)), ttl=0)
    web.raw["/.well-known/did.json"] = (200, {}, json.dumps({**doc, "pad": "x" * 4096}).encode())
    assert "over the 2048-byte cap" in (r.resolve(web.did).error or "")
    web.raw["/.well-known/did.json"] = (302, {"Location": "https://evil.example/did.json"}, b"")
    assert "another origin" in (r.resolve(web.did).error or "")
    web.raw["/.well-known/did.json"] = (200, {}, b"<html>")
    assert "did not return JSON" in (r.resolve(web.did).error or "")
    del web.raw["/.well-known/did.json"]
    web.serve(doc, "/u/did.json")
    web.raw["/.well-known/did.json"] = (301, {"Location": "/u/did.json"}, b"")  # same origin: followed
    assert r.resolve(web.did).document == check_did_document(doc, web.did)
    assert r.fetches == 4  # ttl=0: nothing kept, every resolution fetched
    r.close()


def test_the_resolver_refuses_a_certificate_it_does_not_trust(web: DidWebServer) -> None:
    web.serve(did_web_document(web.did, None, []))
    r = DidResolver(WebLimits(timeout=2.0))  # the system's CAs: not the test CA
    res = r.resolve(web.did)
    assert res.document is None and res.unreachable and "cannot be reached" in (res.error or "")
    r.close()


def test_a_closed_port_is_unreachable_quickly() -> None:
    r = DidResolver(WebLimits(timeout=1.0))
    res = r.resolve(f"did:web:127.0.0.1%3A{free_port()}")
    assert res.document is None and res.unreachable
    assert r.resolve(res.did) is res  # the failure is remembered for a while: no second fetch
    assert r.fetches == 1
    r.close()


# -- pure: the same rules on an in-memory chain (no node) -----------------------------------------
def _memory_case(
    issuer: IssuerKey | str, proofs: list[dict[str, Any]] | None = None, *, body: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Any]:
    did = issuer if isinstance(issuer, str) else issuer.did
    doc = body or credential(issuer={"id": did, "name": "Alice College"})
    cred = anchored(doc)
    anchors = cred["proof"] if isinstance(cred["proof"], list) else [cred["proof"]]
    sigs = proofs if proofs is not None else ([sign(doc, issuer)] if isinstance(issuer, IssuerKey) else [])
    cred["proof"] = [*sigs, *anchors]
    chain = MemoryChain(issuer=IssuerRecord(ISSUER, 1, ANCHORED_AT - 100, 0, "Alice College", did))
    return cred, chain


def _pure(cred: dict[str, Any], chain: Any, config: VerifyConfig | None = None) -> VerificationResult:
    return verify_credential(json.dumps(cred), chain, config or CONFIG, now=NOW)


def test_pure_signed_valid_and_an_unknown_suite_listed() -> None:
    doc = credential(issuer={"id": ALICE.did, "name": "Alice College"})
    other = {"type": "DataIntegrityProof", "cryptosuite": "bbs-2023", "proofValue": "u1"}
    cred, chain = _memory_case(ALICE, [sign(doc, ALICE), other], body=doc)
    res = _pure(cred, chain)
    assert res.status is Status.valid
    sig = res.check("signature")
    assert sig.status is CheckStatus.passed and sig.details["unverified_proofs"] == [
        "DataIntegrityProof/bbs-2023"
    ]
    assert "did not verify (DataIntegrityProof/bbs-2023)" in sig.message


def test_pure_a_wrong_proof_purpose_is_invalid() -> None:
    doc = credential(issuer={"id": ALICE.did, "name": "Alice College"})
    proof = create_proof_as(doc, ALICE, "authentication")
    res = _pure(*_memory_case(ALICE, [proof], body=doc))
    assert res.status is Status.invalid and "proofPurpose 'authentication'" in res.check("signature").message


def test_pure_a_bad_signature_is_invalid_even_when_the_chain_is_down() -> None:
    doc = credential(issuer={"id": ALICE.did, "name": "Alice College"})
    cred, chain = _memory_case(ALICE, [sign(doc, MALLORY, vm=ALICE.vm)], body=doc)
    res = _pure(cred, replace(chain, error=ChainError("node down")))
    assert res.status is Status.invalid  # a forged signature needs no chain to be forged
    assert res.check("anchored").status is CheckStatus.error
    assert "does not verify" in res.check("signature").message


def test_pure_a_did_web_is_fetched_only_once_the_chain_confirms_it() -> None:
    did = "did:web:uni.example"
    cred, chain = _memory_case(did, [], body=credential(issuer={"id": did, "name": "Uni"}))
    down = _pure(cred, replace(chain, error=ChainError("node down")))
    assert down.status is Status.indeterminate
    assert "not fetched: the chain could not be read" in down.check("signature").message
    other = replace(
        chain, issuer=IssuerRecord(chain.issuer.address, 1, 1, 0, "Other", "did:web:other.example")
    )
    res = _pure(cred, other)
    assert res.status is Status.invalid and res.check("issuer_binding").status is CheckStatus.failed
    assert "not fetched: it is not the DID the anchoring issuer registered" in res.check("signature").message
    # confirmed by the chain but no resolver given to the core: reported, the chain's verdict stands
    res = _pure(cred, chain)
    assert res.status is Status.valid and "no DID resolver is configured" in res.check("signature").message


def test_pure_a_bare_digest_has_no_binding_and_no_signature() -> None:
    doc = credential()
    index = MemoryIndex(Resolution("hit", index_hit(doc)))
    res = verify_digest(document_digest(doc), MemoryChain(), CONFIG, now=NOW, index=index)
    assert res.status is Status.valid
    assert res.check("issuer_binding").status is res.check("signature").status is CheckStatus.skipped


def create_proof_as(doc: dict[str, Any], key: IssuerKey, purpose: str) -> dict[str, Any]:
    """A proof with another proofPurpose."""
    return create_proof(doc, key.seed, key.vm, CREATED, purpose)


def test_pure_a_flood_of_proofs_is_refused_without_canonicalizing_them() -> None:
    doc = credential(issuer={"id": ALICE.did, "name": "Alice College"})
    proof = sign(doc, ALICE)
    flood = [{**proof, "created": f"2026-01-01T00:00:{i:02d}Z"} for i in range(40)]
    t0 = time.perf_counter()
    res = _pure(*_memory_case(ALICE, flood, body=doc))
    assert time.perf_counter() - t0 < 2.0  # 8 canonicalized at most, not 40
    assert res.status is Status.invalid
    assert "at most 8 per document" in res.check("signature").message

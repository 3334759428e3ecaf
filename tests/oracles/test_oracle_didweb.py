"""did:web issuers through @digitalbazaar/vc (DID documents served by the oracle's offline loader).

A key the issuer's DID document lists under ``assertionMethod`` verifies; a key listed only as a
verification method (not for assertions) and a key of another DID are refused, and our
signature-level verifier agrees on the signature itself. One node call.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from oracles.kit import public_key, signed_by_us
from oracles.oracle import run_items

from registry.core.dataintegrity import didkey
from registry.core.dataintegrity import eddsa_rdfc_2022 as eddsa
from registry.core.samples import sample_badge

DID = "did:web:college.example"
SEED = hashlib.sha256(b"did:web issuer key").digest()
STRAY = hashlib.sha256(b"did:web stray key").digest()
CREATED = "2026-03-01T10:00:00Z"
NOW = "2026-06-01T00:00:00Z"


def _did_document() -> dict[str, Any]:
    def vm(fragment: str, seed: bytes) -> dict[str, Any]:
        return {"id": f"{DID}#{fragment}", "type": "Multikey", "controller": DID,
                "publicKeyMultibase": didkey.encode_public_key(public_key(seed))}

    return {"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": DID, "verificationMethod": [vm("key-1", SEED), vm("key-2", STRAY)],
            "assertionMethod": [f"{DID}#key-1"], "authentication": [f"{DID}#key-2"]}


def _resolver(vm: str) -> bytes:
    for method in _did_document()["verificationMethod"]:
        if method["id"] == vm:
            return didkey.decode_public_key(method["publicKeyMultibase"])
    raise LookupError(vm)


def _cases() -> dict[str, dict[str, Any]]:
    badge = sample_badge(0, issuer_id=DID, issuer_name="College")
    return {"assertion_key": signed_by_us(SEED, badge, CREATED, f"{DID}#key-1"),
            "authentication_key": signed_by_us(STRAY, badge, CREATED, f"{DID}#key-2"),
            "did_key_of_someone": signed_by_us(STRAY, copy.deepcopy(badge), CREATED)}


@pytest.fixture(scope="module")
def verdicts() -> dict[str, Any]:
    cases = _cases()
    run = run_items([{"document": d, "checks": ["verify"], "verify": {"now": NOW}} for d in cases.values()],
                    documents={DID: _did_document()})
    return {"cases": cases, **{n: r["verify"] for n, r in zip(cases, run.results, strict=True)}}


def test_key_listed_for_assertions_verifies(verdicts: Any) -> None:
    assert verdicts["assertion_key"]["verified"] is True, verdicts["assertion_key"]
    assert verdicts["assertion_key"]["results"][0]["verificationMethod"] == f"{DID}#key-1"
    assert eddsa.verify_proof(verdicts["cases"]["assertion_key"], _resolver).verified


def test_key_not_listed_for_assertions_is_refused(verdicts: Any) -> None:
    v = verdicts["authentication_key"]
    assert v["verified"] is False
    refusal = 'not authorized by controller for proof purpose "assertionMethod"'
    assert any(refusal in e for e in v["errors"]), v
    # the signature itself is sound: refusing it is the verifier's check of the DID document
    assert eddsa.verify_proof(verdicts["cases"]["authentication_key"], _resolver).verified


def test_key_of_another_did_is_refused(verdicts: Any) -> None:
    v = verdicts["did_key_of_someone"]
    assert v["verified"] is False
    assert "Error: Credential issuer must match the verification method controller." in v["errors"], v

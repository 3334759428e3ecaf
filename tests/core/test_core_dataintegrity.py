"""eddsa-rdfc-2022, the pinned-context loader and did:key against the W3C Recommendation's vectors."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.dataintegrity import didkey
from registry.core.dataintegrity import eddsa_rdfc_2022 as eddsa
from registry.core.dataintegrity.contexts import DEFAULT_LOADER, StaticLoader
from registry.core.dataintegrity.rdfc import canonize
from registry.errors import DataIntegrityError

VECTORS = Path(__file__).with_name("vectors") / "vc-di-eddsa"
SUITE = VECTORS / "eddsa-rdfc-2022"
EXAMPLES_URL = "https://www.w3.org/ns/credentials/examples/v2"
LOADER = StaticLoader({EXAMPLES_URL: json.loads((VECTORS / "credentials-examples-v2.json").read_text())})
CREATED = "2023-02-24T23:36:38Z"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _text(name: str) -> str:
    return (SUITE / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    seed = didkey.decode_private_key(_json(VECTORS / "keyPair.json")["privateKeyMultibase"])
    return Ed25519PrivateKey.from_private_bytes(seed)


@pytest.fixture(scope="module")
def signed() -> dict[str, Any]:
    return _json(SUITE / "signedDataInt.json")  # type: ignore[no-any-return]


def test_canonical_document_matches_vector() -> None:
    canon = eddsa.transform(_json(VECTORS / "unsigned.json"), LOADER)
    assert canon == _text("canonDocDataInt.txt")
    assert hashlib.sha256(canon.encode()).hexdigest() == _text("docHashDataInt.txt").strip()


def test_proof_configuration_matches_vector() -> None:
    config = _json(SUITE / "proofConfigDataInt.json")
    options = {k: v for k, v in config.items() if k != "@context"}
    canon = eddsa.proof_configuration(options, config["@context"], LOADER)
    assert canon == _text("proofCanonDataInt.txt")
    assert hashlib.sha256(canon.encode()).hexdigest() == _text("proofHashDataInt.txt").strip()


def test_hash_data_matches_vector() -> None:
    doc = eddsa.transform(_json(VECTORS / "unsigned.json"), LOADER)
    config = _json(SUITE / "proofConfigDataInt.json")
    conf = eddsa.proof_configuration({k: v for k, v in config.items() if k != "@context"},
                                     config["@context"], LOADER)
    assert eddsa.hash_data(conf, doc).hex() == _text("combinedHashDataInt.txt").strip()


def test_signature_and_signed_document_match_vector(key: Ed25519PrivateKey, signed: dict[str, Any]) -> None:
    doc = _json(VECTORS / "unsigned.json")
    before = copy.deepcopy(doc)
    vm = didkey.verification_method_id(key.public_key().public_bytes_raw())
    proof = eddsa.create_proof(doc, key, vm, CREATED, loader=LOADER)
    assert doc == before  # never changes its input
    assert proof["proofValue"] == _text("sigBTC58DataInt.txt").strip()
    assert didkey.multibase_decode(proof["proofValue"]).hex() == _text("sigHexDataInt.txt").strip()
    out = {**doc, "proof": proof}
    assert out == signed
    assert json.dumps(out, indent=2) == (SUITE / "signedDataInt.json").read_text(encoding="utf-8")


def test_seed_bytes_and_datetime_created_sign_the_same(signed: dict[str, Any]) -> None:
    seed = didkey.decode_private_key(_json(VECTORS / "keyPair.json")["privateKeyMultibase"])
    proof = eddsa.create_proof(_json(VECTORS / "unsigned.json"), seed, signed["proof"]["verificationMethod"],
                               datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC), loader=LOADER)
    assert proof == signed["proof"]


def test_verify_accepts_vector(signed: dict[str, Any]) -> None:
    result = eddsa.verify_proof(signed, loader=LOADER)
    assert result.verified, result.reason
    assert result.verification_method == signed["proof"]["verificationMethod"]
    as_set = {**signed, "proof": [signed["proof"], {"type": "CredentialRegistryAnchor2026"}]}
    assert eddsa.verify_proof(as_set, loader=LOADER).verified


def _other_key_proof(doc: dict[str, Any]) -> dict[str, Any]:
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    proof = eddsa.create_proof(doc, other, doc["proof"]["verificationMethod"], CREATED, loader=LOADER)
    return {**doc, "proof": proof}


def _mutate(signed: dict[str, Any], case: str) -> dict[str, Any]:
    doc = copy.deepcopy(signed)
    p = doc["proof"]
    if case == "body":
        doc["credentialSubject"]["alumniOf"] = "The School of Exampled"
    elif case == "created":
        p["created"] = "2023-02-24T23:36:39Z"
    elif case == "other_key":
        return _other_key_proof(doc)
    elif case == "other_vm":
        mb = didkey.encode_public_key(bytes(32))
        p["verificationMethod"] = f"did:key:{mb}#{mb}"
    elif case == "truncated":
        p["proofValue"] = p["proofValue"][:-4]
    elif case == "not_multibase":
        p["proofValue"] = "u" + p["proofValue"][1:]
    elif case == "cryptosuite":
        p["cryptosuite"] = "eddsa-jcs-2022"
    elif case == "purpose":
        p["proofPurpose"] = "authentication"
    elif case == "context":
        doc["@context"] = [*doc["@context"], "https://example.org/unpinned/v1"]
    elif case == "no_proof":
        del doc["proof"]
    return doc


FAILURES = {
    "body": ("invalid_data_integrity_proof", "signature does not verify"),
    "created": ("invalid_data_integrity_proof", "signature does not verify"),
    "other_key": ("invalid_data_integrity_proof", "signature does not verify"),
    "other_vm": ("invalid_data_integrity_proof", "signature does not verify"),
    "truncated": ("invalid_data_integrity_proof", "an Ed25519 signature has 64"),
    "not_multibase": ("invalid_multikey", "must start with 'z'"),
    "cryptosuite": ("invalid_data_integrity_proof", "no eddsa-rdfc-2022 proof"),
    "purpose": ("invalid_data_integrity_proof", "expected 'assertionMethod'"),
    "context": ("unknown_context", "https://example.org/unpinned/v1"),
    "no_proof": ("invalid_data_integrity_proof", "has no proof"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_verify_rejects_with_reason(signed: dict[str, Any], case: str) -> None:
    result = eddsa.verify_proof(_mutate(signed, case), loader=LOADER)
    code, words = FAILURES[case]
    assert not result.verified
    assert result.code == code and words in (result.reason or ""), result


def test_default_loader_refuses_unpinned_context(signed: dict[str, Any]) -> None:
    result = eddsa.verify_proof(signed)  # the examples context is not pinned for production
    assert not result.verified and result.code == "unknown_context"
    assert EXAMPLES_URL in (result.reason or "") and "never fetched" in (result.reason or "")
    with pytest.raises(DataIntegrityError) as exc:
        DEFAULT_LOADER("https://www.w3.org/2018/credentials/v1", {})
    assert exc.value.code == "unknown_context"


def test_loaders_do_not_share_resolved_contexts(signed: dict[str, Any]) -> None:
    assert eddsa.verify_proof(signed, loader=LOADER).verified
    assert eddsa.verify_proof(signed).code == "unknown_context"


@pytest.mark.parametrize(("change", "term"), [
    ({"undefinedTerm": 1}, "undefinedTerm"),
    ({"type": ["VerifiableCredential", "UndefinedType"]}, "UndefinedType"),
    ({"id": "relative-id"}, "relative-id"),
])
def test_safe_mode_refuses_undefined_terms(change: dict[str, Any], term: str) -> None:
    doc = {**_json(VECTORS / "unsigned.json"), "@context": ["https://www.w3.org/ns/credentials/v2"]}
    doc["credentialSubject"] = {"id": "did:example:abcdefgh"}
    doc.update(change)
    with pytest.raises(DataIntegrityError) as exc:
        canonize(doc)
    assert exc.value.code == "jsonld_error" and term in exc.value.message


def test_pinned_contexts_match_provenance() -> None:
    prov = (Path(eddsa.__file__).with_name("contexts") / "PROVENANCE.md").read_text()
    for path in Path(eddsa.__file__).with_name("contexts").glob("*.json"):
        assert f"| {path.name} |" in prov and hashlib.sha256(path.read_bytes()).hexdigest() in prov


def test_did_key_round_trip(key: Ed25519PrivateKey) -> None:
    pair = _json(VECTORS / "keyPair.json")
    raw = key.public_key().public_bytes_raw()
    assert didkey.encode_public_key(raw) == pair["publicKeyMultibase"]
    assert didkey.decode_public_key(pair["publicKeyMultibase"]) == raw
    seed = didkey.decode_private_key(pair["privateKeyMultibase"])
    assert didkey.encode_private_key(seed) == pair["privateKeyMultibase"]
    did = didkey.did_key(raw)
    assert did == "did:key:" + pair["publicKeyMultibase"]
    vm = didkey.resolve_verification_method(didkey.verification_method_id(raw))
    mb = pair["publicKeyMultibase"]
    assert vm == {"@context": "https://w3id.org/security/multikey/v1", "id": f"{did}#{mb}",
                  "type": "Multikey",
                  "controller": did, "publicKeyMultibase": mb}
    doc = didkey.resolve_did_key(did)
    assert doc["assertionMethod"] == [vm["id"]] and doc["verificationMethod"][0]["controller"] == did
    assert didkey.public_key_for(vm["id"]) == raw


@pytest.mark.parametrize("bad", ["did:web:example.com", "did:key:", "did:key:z6Mk0OIl",
                                 "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
                                 "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#other"])
def test_did_key_rejects(bad: str) -> None:
    with pytest.raises(DataIntegrityError) as exc:
        didkey.public_key_for(bad)
    assert exc.value.code in ("invalid_did", "invalid_multikey")


def test_base58_leading_zeros() -> None:
    for data in (b"", b"\0", b"\0\0\x01", bytes(range(40))):
        assert didkey.b58decode(didkey.b58encode(data)) == data


def test_ob3_sample_badge_signs_and_verifies_with_pinned_contexts(key: Ed25519PrivateKey) -> None:
    from registry.core.samples import sample_badge
    vm = didkey.verification_method_id(key.public_key().public_bytes_raw())
    doc = sample_badge(1, issuer_id=vm.split("#")[0], issuer_name="Example University")
    signed = {**doc, "proof": [eddsa.create_proof(doc, key, vm, CREATED)]}
    assert eddsa.verify_proof(signed).verified
    signed["credentialSubject"] = {**signed["credentialSubject"], "id": "did:example:other"}
    assert not eddsa.verify_proof(signed).verified

"""eddsa-rdfc-2022 both ways against @digitalbazaar/vc (an independent implementation, via node).

Ours signs, the library verifies; the library signs, ours verifies; a tampered credential or a
wrong key fails in both; the W3C Recommendation's vector verifies in both and the library's
signature of the vector's document is the vector's signature, byte for byte. Two node calls.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from oracles.anchor_forms import ANCHOR_CRYPTOSUITE, legacy_anchor_proof, new_anchor_proof
from oracles.kit import public_key, signed_by_us
from oracles.oracle import run_items

from registry.core.dataintegrity import didkey
from registry.core.dataintegrity import eddsa_rdfc_2022 as eddsa
from registry.core.dataintegrity.contexts import StaticLoader
from registry.core.samples import sample_badge

VECTORS = Path(__file__).resolve().parents[1] / "core" / "vectors" / "vc-di-eddsa"
EXAMPLES_URL = "https://www.w3.org/ns/credentials/examples/v2"
EXAMPLES = json.loads((VECTORS / "credentials-examples-v2.json").read_text(encoding="utf-8"))
VECTOR_LOADER = StaticLoader({EXAMPLES_URL: EXAMPLES})
VECTOR_CREATED = "2023-02-24T23:36:38Z"
CREATED = "2026-03-01T10:00:00Z"
NOW = "2026-06-01T00:00:00Z"  # inside every sample's validFrom..validUntil
SEED_A = hashlib.sha256(b"oracle issuer A").digest()
SEED_B = hashlib.sha256(b"oracle issuer B").digest()


def _badge(seed: bytes, n: int = 0) -> dict[str, Any]:
    return sample_badge(n, issuer_id=didkey.did_key(public_key(seed)), issuer_name="Oracle College")


def _signed_by_us(seed: bytes, doc: dict[str, Any], vm: str | None = None) -> dict[str, Any]:
    return signed_by_us(seed, doc, CREATED, vm)


def _tamper(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["credentialSubject"]["name"] = "Mallory"
    return out


def _with_bad_second_proof(signed: dict[str, Any]) -> dict[str, Any]:
    """``signed`` plus a second eddsa proof by another key whose signature is wrong."""
    out = copy.deepcopy(signed)
    vm_b = didkey.verification_method_id(public_key(SEED_B))
    bad = eddsa.create_proof(_tamper(signed), SEED_B, vm_b, CREATED)
    out["proof"].append(bad)
    return out


def _vector() -> dict[str, Any]:
    return json.loads((VECTORS / "eddsa-rdfc-2022" / "signedDataInt.json").read_text(encoding="utf-8"))


def _vector_seed() -> bytes:
    key = json.loads((VECTORS / "keyPair.json").read_text(encoding="utf-8"))
    return didkey.decode_private_key(key["privateKeyMultibase"])


def _ours_cases() -> dict[str, dict[str, Any]]:
    """Documents we sign (and variants), each to be verified by the library."""
    signed = _signed_by_us(SEED_A, _badge(SEED_A))
    with_anchor = copy.deepcopy(signed)
    with_anchor["proof"].append(new_anchor_proof(signed))
    with_legacy = copy.deepcopy(signed)
    with_legacy["proof"].append(legacy_anchor_proof(signed))
    only_anchor = copy.deepcopy(signed)
    only_anchor["proof"] = [new_anchor_proof(signed)]
    other_key = _signed_by_us(SEED_B, _badge(SEED_A), vm=didkey.verification_method_id(public_key(SEED_A)))
    return {"ours": signed, "ours_with_anchor": with_anchor, "ours_with_legacy_anchor": with_legacy,
            "only_anchor": only_anchor, "ours_tampered": _tamper(signed), "ours_wrong_key": other_key,
            "names_another_issuer": _signed_by_us(SEED_A, _badge(SEED_B)),
            "one_good_one_bad": _with_bad_second_proof(signed),
            "w3c_vector": _vector()}


DI_ONLY = ("names_another_issuer", "w3c_vector")  # also verified without the VC issuer rule


def _item(doc: dict[str, Any], checks: list[str], purpose: str = "credentialIssuance",
          **extra: Any) -> dict[str, Any]:
    return {"document": doc, "checks": checks, "verify": {"now": NOW, "purpose": purpose}, **extra}


@pytest.fixture(scope="module")
def oracle() -> dict[str, Any]:
    """Call 1: the library verifies ours and signs two; call 2: it verifies a tampered one of its own."""
    ours = _ours_cases()
    names = list(ours)
    items = [_item(ours[n], ["verify"]) for n in names]
    items += [_item(ours[n], ["verify"], purpose="assertionMethod") for n in DI_ONLY]
    issue_a = {"seed": SEED_B.hex(), "created": CREATED}
    items.append(_item(_badge(SEED_B), ["issue", "verify"], issue=issue_a))
    unsigned_vector = json.loads((VECTORS / "unsigned.json").read_text(encoding="utf-8"))
    items.append(_item(unsigned_vector, ["issue"],
                       issue={"seed": _vector_seed().hex(), "created": VECTOR_CREATED}))
    first = run_items(items, context_files={EXAMPLES_URL: VECTORS / "credentials-examples-v2.json"})
    assert first.request_contexts_used == [EXAMPLES_URL]  # every other context came from npm
    verdicts = dict(zip(names, (r["verify"] for r in first.results), strict=False))
    verdicts.update({n + "/assertionMethod": first.results[len(names) + i]["verify"]
                     for i, n in enumerate(DI_ONLY)})
    at = len(names) + len(DI_ONLY)
    library_signed = first.results[at]["issue"]
    library_vector = first.results[at + 1]["issue"]
    assert library_signed["ok"], library_signed
    assert library_vector["ok"], library_vector
    second = run_items([_item(_tamper(library_signed["credential"]), ["verify"])])
    return {"ours": ours, "verdicts": verdicts, "library_signed": library_signed,
            "library_signed_verify": first.results[at]["verify"],
            "library_vector": library_vector["credential"],
            "library_tampered": second.results[0]["verify"], "times": (first, second)}


def test_library_verifies_what_we_sign(oracle: dict[str, Any]) -> None:
    v = oracle["verdicts"]["ours"]
    assert v["verified"] is True, v
    assert v["errors"] == []
    assert [(r["cryptosuite"], r["verified"]) for r in v["results"]] == [("eddsa-rdfc-2022", True)]
    assert v["results"][0]["verificationMethod"] == oracle["ours"]["ours"]["proof"][0]["verificationMethod"]
    assert eddsa.verify_proof(oracle["ours"]["ours"]).verified


def test_library_ignores_our_anchor_proof_in_a_proof_set(oracle: dict[str, Any]) -> None:
    """@digitalbazaar/vc skips proofs no suite matches: not in results, not an error."""
    for name in ("ours_with_anchor", "ours_with_legacy_anchor"):
        v = oracle["verdicts"][name]
        assert v["verified"] is True, (name, v)
        assert v["errors"] == [], name
        assert [r["cryptosuite"] for r in v["results"]] == ["eddsa-rdfc-2022"], name
        assert len(v["ignoredProofs"]) == 1, name
    assert oracle["verdicts"]["ours_with_anchor"]["ignoredProofs"] == [
        {"type": "DataIntegrityProof", "cryptosuite": ANCHOR_CRYPTOSUITE}]
    assert oracle["verdicts"]["ours_with_legacy_anchor"]["ignoredProofs"] == [
        {"type": "CredentialRegistryAnchor2026", "cryptosuite": None}]
    # our own verifier also checks only the eddsa proof of the set
    assert eddsa.verify_proof(oracle["ours"]["ours_with_anchor"]).verified


def test_library_accepts_a_proof_set_when_any_proof_verifies(oracle: dict[str, Any]) -> None:
    """A difference to know: @digitalbazaar/vc's proof set is 'some proof verifies'; ours is 'all'."""
    v = oracle["verdicts"]["one_good_one_bad"]
    assert v["verified"] is True, v
    assert sorted(r["verified"] for r in v["results"]) == [False, True]
    res = eddsa.verify_proof(oracle["ours"]["one_good_one_bad"])
    assert not res.verified and "does not verify" in (res.reason or "")


def test_library_finds_nothing_to_verify_in_an_anchor_only_credential(oracle: dict[str, Any]) -> None:
    v = oracle["verdicts"]["only_anchor"]
    assert v["verified"] is False
    assert v["results"] == []
    assert any(e.startswith("NotFoundError: Did not verify any proofs") for e in v["errors"]), v
    assert not eddsa.verify_proof(oracle["ours"]["only_anchor"]).verified


def test_tampered_credential_fails_in_both(oracle: dict[str, Any]) -> None:
    v = oracle["verdicts"]["ours_tampered"]
    assert v["verified"] is False
    assert v["results"][0]["verified"] is False
    assert any("Invalid signature" in e for e in v["errors"]), v
    assert not eddsa.verify_proof(oracle["ours"]["ours_tampered"]).verified
    w = oracle["library_tampered"]
    assert w["verified"] is False and any("Invalid signature" in e for e in w["errors"]), w
    tampered = _tamper(oracle["library_signed"]["credential"])
    res = eddsa.verify_proof(tampered)
    assert not res.verified and "does not verify" in (res.reason or "")


def test_signature_by_a_key_outside_the_named_method_fails_in_both(oracle: dict[str, Any]) -> None:
    v = oracle["verdicts"]["ours_wrong_key"]
    assert v["verified"] is False and any("Invalid signature" in e for e in v["errors"]), v
    assert not eddsa.verify_proof(oracle["ours"]["ours_wrong_key"]).verified


def test_we_verify_what_the_library_signs(oracle: dict[str, Any]) -> None:
    issued = oracle["library_signed"]
    cred = issued["credential"]
    proofs = cred["proof"] if isinstance(cred["proof"], list) else [cred["proof"]]
    assert [(p["type"], p["cryptosuite"], p["created"]) for p in proofs] == [
        ("DataIntegrityProof", "eddsa-rdfc-2022", CREATED)]
    assert proofs[0]["verificationMethod"] == didkey.verification_method_id(public_key(SEED_B))
    assert oracle["library_signed_verify"]["verified"] is True
    res = eddsa.verify_proof(cred)
    assert res.verified, res
    assert res.verification_method == proofs[0]["verificationMethod"]


ISSUER_RULE = "Error: Credential issuer must match the verification method controller."


def test_library_rejects_a_credential_naming_another_issuer(oracle: dict[str, Any]) -> None:
    """@digitalbazaar/vc's own issuer binding: issuer must be the signing key's controller."""
    v = oracle["verdicts"]["names_another_issuer"]
    assert v["verified"] is False
    assert ISSUER_RULE in v["errors"], v
    assert v["results"][0]["purposeValid"] is False
    # the signature itself is sound: Data Integrity alone (no VC issuer rule) accepts it, and so
    # does our signature-only verify_proof -- binding issuer and key is the verifier's job
    assert oracle["verdicts"]["names_another_issuer/assertionMethod"]["verified"] is True
    assert eddsa.verify_proof(oracle["ours"]["names_another_issuer"]).verified


def test_w3c_vector_verifies_in_both(oracle: dict[str, Any]) -> None:
    """The vector's signature verifies; as a credential the library refuses it (issuer is a URL)."""
    v = oracle["verdicts"]["w3c_vector/assertionMethod"]
    assert v["verified"] is True, v
    assert v["results"][0]["verificationMethod"] == _vector()["proof"]["verificationMethod"]
    assert eddsa.verify_proof(oracle["ours"]["w3c_vector"], loader=VECTOR_LOADER).verified
    as_credential = oracle["verdicts"]["w3c_vector"]
    assert as_credential["verified"] is False
    assert ISSUER_RULE in as_credential["errors"], as_credential


def test_library_signature_of_the_vector_document_is_the_vectors_and_ours(oracle: dict[str, Any]) -> None:
    """Ed25519 is deterministic: the library, the W3C vector and our signer agree byte for byte."""
    expected = _vector()["proof"]
    got = oracle["library_vector"]["proof"]
    assert got == expected
    unsigned = json.loads((VECTORS / "unsigned.json").read_text(encoding="utf-8"))
    ours = eddsa.create_proof(unsigned, _vector_seed(), expected["verificationMethod"], VECTOR_CREATED,
                              loader=VECTOR_LOADER)
    assert ours == expected

"""The official schemas (ajv) and jsonld.js safe mode on the registry's old and new proof forms.

Issue 12: the OB 3.0 AchievementCredential schema requires ``proof`` to be an array; the VC 2.0
schema requires ``proofPurpose`` and ``verificationMethod`` on every proof; jsonld.js in safe
mode throws on ``CredentialRegistryAnchor2026`` and its ten properties, none of which any
context defines, and accepts a ``DataIntegrityProof`` with cryptosuite ``registry-anchor-2026``.
One node call for the module.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from oracles.anchor_forms import anchor_fields, legacy_anchor_proof, new_anchor_proof
from oracles.kit import public_key, signed_by_us
from oracles.oracle import run_items

from registry.core.dataintegrity import didkey
from registry.core.samples import sample_badge

SEED = hashlib.sha256(b"oracle schemas issuer").digest()
CHECKS = ["ob3_schema", "vc2_schema", "expand"]
ANCHOR_FIELDS = ("digest", "cid", "merkleRoot", "merklePath", "registry", "issuer", "transactionHash",
                 "blockNumber", "anchoredAt", "manifestCid")


def _badge() -> dict[str, Any]:
    doc = sample_badge(0, issuer_id=didkey.did_key(public_key(SEED)), issuer_name="Schema College")
    return signed_by_us(SEED, doc, "2026-03-01T10:00:00Z")


def _with(doc: dict[str, Any], proof: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["proof"] = proof
    return out


def _cases() -> dict[str, dict[str, Any]]:
    signed = _badge()
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    new = new_anchor_proof(unsigned)
    no_purpose = {k: v for k, v in new.items() if k != "proofPurpose"}
    cases = {
        "conforming": _with(signed, [*signed["proof"], new]),
        "conforming_unsigned": _with(unsigned, [new]),
        "legacy_object": _with(unsigned, legacy_anchor_proof(unsigned)),
        "legacy_in_array": _with(unsigned, [legacy_anchor_proof(unsigned)]),
        "no_proof_purpose": _with(signed, [*signed["proof"], no_purpose]),
        "undefined_subject_term": _with(signed, [*signed["proof"], new]),
    }
    cases["undefined_subject_term"]["credentialSubject"]["favouriteColour"] = "green"
    fields = anchor_fields(unsigned)
    for name in ANCHOR_FIELDS:  # each legacy property alone, on an otherwise well-formed proof
        cases[f"field:{name}"] = _with(unsigned, [{**new, name: fields[name]}])
    legacy_type = {**new, "type": "CredentialRegistryAnchor2026"}
    cases["type:CredentialRegistryAnchor2026"] = _with(unsigned, [legacy_type])
    return cases


@pytest.fixture(scope="module")
def verdicts() -> dict[str, dict[str, Any]]:
    """Every case through ajv (both schemas) and jsonld.js safe mode, one node call."""
    cases = _cases()
    run = run_items([{"document": d, "checks": CHECKS} for d in cases.values()])
    return dict(zip(cases, run.results, strict=True))


def _errors(v: dict[str, Any], schema: str) -> str:
    return "\n".join(v[schema]["errors"])


def test_official_schemas_accept_a_conforming_ob3_credential_with_a_proof_array(verdicts: Any) -> None:
    for name in ("conforming", "conforming_unsigned"):
        v = verdicts[name]
        assert v["ob3_schema"] == {"valid": True, "errors": []}, (name, v)
        assert v["vc2_schema"] == {"valid": True, "errors": []}, (name, v)
        assert v["expand"] == {"ok": True, "error": None}, (name, v)


def test_ob3_schema_rejects_a_single_object_proof(verdicts: Any) -> None:
    v = verdicts["legacy_object"]
    assert v["ob3_schema"]["valid"] is False
    assert v["ob3_schema"]["errors"] == ['/proof must be array (#/properties/proof/type) {"type":"array"}']


def test_vc2_schema_rejects_the_legacy_proof_for_its_missing_purpose_and_method(verdicts: Any) -> None:
    for name in ("legacy_object", "legacy_in_array"):
        text = _errors(verdicts[name], "vc2_schema")
        assert verdicts[name]["vc2_schema"]["valid"] is False
        assert "must have required property 'proofPurpose'" in text, (name, text)
        assert "must have required property 'verificationMethod'" in text, (name, text)
    # in an array the OB 3.0 schema (type required, nothing else) lets it through: VC 2.0 does not
    assert verdicts["legacy_in_array"]["ob3_schema"]["valid"] is True


def test_vc2_schema_rejects_a_proof_without_proof_purpose(verdicts: Any) -> None:
    v = verdicts["no_proof_purpose"]
    assert v["vc2_schema"]["valid"] is False
    assert "must have required property 'proofPurpose'" in _errors(v, "vc2_schema")
    assert "verificationMethod" not in _errors(v, "vc2_schema")


def test_safe_mode_throws_on_the_legacy_anchor_proof(verdicts: Any) -> None:
    for name in ("legacy_object", "legacy_in_array"):
        err = verdicts[name]["expand"]["error"]
        assert verdicts[name]["expand"]["ok"] is False
        assert err["name"] == "jsonld.ValidationError", err
        assert err["message"] == "Safe mode validation error.", err


def _dropped(v: dict[str, Any]) -> str:
    """The property jsonld.js safe mode refused (its first 'invalid property' event)."""
    assert v["expand"]["ok"] is False, v
    err = v["expand"]["error"]
    assert err["name"] == "jsonld.ValidationError", err
    event = err["details"]["event"]
    assert event["code"] == "invalid property", event
    return str(event["details"]["property"])


def test_safe_mode_throws_on_each_legacy_anchor_property_and_type(verdicts: Any) -> None:
    for name in ANCHOR_FIELDS:
        assert _dropped(verdicts[f"field:{name}"]) == name
    # with the legacy type no type-scoped context applies: the proof's first term is undefined
    assert _dropped(verdicts["type:CredentialRegistryAnchor2026"]) == "created"


def test_safe_mode_is_on(verdicts: Any) -> None:
    """An undefined term anywhere (here in the subject) fails: the check is not vacuous."""
    v = verdicts["undefined_subject_term"]
    assert _dropped(v) == "favouriteColour"
    assert v["ob3_schema"]["valid"] is True  # the schemas allow extra properties; only JSON-LD sees it

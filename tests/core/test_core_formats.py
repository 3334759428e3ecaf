"""Manifest and anchor proof models, registry references, attach/split, JSON Schemas."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.anchor_suite import decode_anchor_proof, encode_anchor_proof
from registry.core.canonical import canonical_bytes, document_digest, load_document
from registry.core.cid import cid_from_digest
from registry.core.formats import (
    AnchorProof,
    Manifest,
    attach_proof,
    format_registry,
    format_timestamp,
    parse_registry,
    split_proof,
    split_proofs,
)
from registry.core.merkle import MerkleTree
from registry.errors import InputError

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
REG_ADDR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # checksummed
ISSUER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
REGISTRY = f"eip155:31337:{REG_ADDR}"


def _schema(name: str, definition: str | None = None) -> Any:
    schema = json.loads((SCHEMAS / name).read_text())
    if definition is not None:  # one of its definitions, e.g. the packed anchor fields
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return jsonschema_rs.Draft202012Validator(schema)


def _digests(n: int) -> list[bytes]:
    return [hashlib.sha256(f"doc {i}".encode()).digest() for i in range(n)]


def _proof_for(tree: MerkleTree, i: int, manifest_cid: str) -> AnchorProof:
    d = tree.digests[i]
    return AnchorProof(
        digest="0x" + d.hex(), cid=cid_from_digest(d), merkleRoot="0x" + tree.root.hex(),
        merklePath=["0x" + p.hex() for p in tree.proof(i)], registry=REGISTRY, issuer=ISSUER,
        transactionHash="0x" + "ab" * 32, blockNumber=12, anchoredAt="2026-11-29T07:00:00Z",
        manifestCid=manifest_cid,
    )


# -- registry references ----------------------------------------------------------------------

def test_registry_reference_roundtrip() -> None:
    assert format_registry(31337, REG_ADDR.lower()) == REGISTRY
    assert parse_registry(REGISTRY) == (31337, REG_ADDR)
    assert parse_registry(f"eip155:1:{REG_ADDR.lower()}") == (1, REG_ADDR)


@pytest.mark.parametrize("bad", ["eip155:0:" + REG_ADDR, "eip155:-1:" + REG_ADDR, "eip155:1:0x1234",
                                 "cosmos:1:" + REG_ADDR, REG_ADDR, "eip155:1:" + REG_ADDR + "00", ""])
def test_registry_reference_rejects(bad: str) -> None:
    with pytest.raises(InputError) as info:
        parse_registry(bad)
    assert info.value.code in {"invalid_registry", "invalid_address"}


def test_format_registry_rejects() -> None:
    for chain_id in (0, -5, True):
        with pytest.raises(InputError):
            format_registry(chain_id, REG_ADDR)
    with pytest.raises(InputError) as info:
        format_registry(1, "0xnothex")
    assert info.value.code == "invalid_address"


def test_format_timestamp() -> None:
    from datetime import datetime, timedelta, timezone

    assert format_timestamp(0) == "1970-01-01T00:00:00Z"
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 11, 29, 8, 0, 5, 999, tzinfo=cet)) == "2026-11-29T07:00:05Z"
    with pytest.raises(InputError):
        format_timestamp(datetime(2026, 1, 1))


# -- manifest ---------------------------------------------------------------------------------

def test_manifest_build_serialize_parse_rebuild() -> None:
    ds = _digests(5)
    m = Manifest.build(f"eip155:31337:{REG_ADDR.lower()}", ISSUER.lower(), ds)
    assert m.registry == REGISTRY and m.issuer == ISSUER
    assert m.count == 5 and m.digests == ["0x" + d.hex() for d in ds]
    assert m.root == "0x" + MerkleTree.build(ds).root.hex()
    raw = m.to_bytes()
    assert raw == canonical_bytes(json.loads(raw))  # already canonical
    back = Manifest.parse(raw, check_root=True)
    assert back == m
    assert back.rebuild_root().hex() == m.root[2:]
    assert back.digest_bytes() == ds
    assert _schema("manifest.schema.json").is_valid(m.to_json())
    assert json.loads(raw)["format"] == "credential-registry/manifest/v1"
    assert json.loads(raw)["tree"] == "oz-standard-v1:bytes32"


def test_manifest_detects_wrong_root() -> None:
    m = Manifest.build(REGISTRY, ISSUER, _digests(3)).to_json()
    m["digests"][0], m["digests"][1] = m["digests"][1], m["digests"][0]
    # leaves are sorted by hash, so swapping the input order keeps the root …
    assert Manifest.parse(json.dumps(m).encode(), check_root=True).root_matches()
    # … but replacing a digest does not
    m["digests"][2] = "0x" + "00" * 32
    parsed = Manifest.parse(json.dumps(m).encode())
    assert not parsed.root_matches()
    with pytest.raises(InputError) as info:
        Manifest.parse(json.dumps(m).encode(), check_root=True)
    assert info.value.code == "manifest_root_mismatch"


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("count", 4, "count is 4"),
    ("count", 0, "/count"),
    ("format", "v2", "/format"),
    ("tree", "other", "/tree"),
    ("root", "0x" + "AB" * 32, "/root"),
    ("digests", ["0x1234"], "/digests"),
    ("issuer", ISSUER.lower(), "checksummed"),
    ("registry", f"eip155:31337:{REG_ADDR.lower()}", "checksummed"),
    ("extra", 1, "/extra"),
])
def test_manifest_rejects(field: str, value: Any, fragment: str) -> None:
    m = Manifest.build(REGISTRY, ISSUER, _digests(3)).to_json()
    m[field] = value
    with pytest.raises(InputError) as info:
        Manifest.parse(json.dumps(m).encode())
    assert info.value.code == "invalid_manifest"
    assert fragment in info.value.message
    # the schema cannot express count == len(digests) or EIP-55 checksums; everything else it catches
    if field not in {"issuer", "registry"} and not (field == "count" and value == 4):
        assert not _schema("manifest.schema.json").is_valid(m)


def test_manifest_parse_is_strict_json() -> None:
    raw = Manifest.build(REGISTRY, ISSUER, _digests(2)).to_bytes()
    dup = raw[:-1] + b',"count":2}'
    with pytest.raises(InputError) as info:
        Manifest.parse(dup)
    assert info.value.code == "duplicate_key"


# -- anchor proof -----------------------------------------------------------------------------

def test_anchor_proof_roundtrip_and_inclusion() -> None:
    tree = MerkleTree.build(_digests(6))
    m_cid = cid_from_digest(hashlib.sha256(b"manifest").digest())
    for i in range(6):
        p = _proof_for(tree, i, m_cid)
        assert p.verify_inclusion()
        assert AnchorProof.parse(p.to_json()) == p
        assert AnchorProof.parse(json.dumps(p.to_json()).encode()) == p
        assert _schema("anchor-proof.schema.json").is_valid(p.to_json())  # the legacy form
        di = encode_anchor_proof(p)
        assert _schema("anchor-proof.schema.json").is_valid(di)  # the form written
        assert not _schema("anchor-proof.schema.json", "legacyProof").is_valid(di)
        fields = {k: v for k, v in p.to_json().items() if k != "type"}
        assert _schema("anchor-proof.schema.json", "anchorFields").is_valid(fields)
        assert not _schema("anchor-proof.schema.json", "anchorFields").is_valid(p.to_json())
    bad = _proof_for(tree, 0, m_cid).to_json()
    bad["merklePath"] = bad["merklePath"][:-1]
    assert not AnchorProof.parse(bad).verify_inclusion()


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("type", "DataIntegrityProof", "/type"),
    ("digest", "0x" + "00" * 31, "/digest"),
    ("cid", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "raw sha2-256"),
    ("cid", cid_from_digest(b"\x01" * 32), "does not name the digest"),
    ("merklePath", ["0x12"], "merklePath[0]"),
    ("blockNumber", -1, "/blockNumber"),
    ("anchoredAt", "2026-11-29 07:00:00", "RFC 3339"),
    ("anchoredAt", "2026-11-29T07:00:00+01:00", "RFC 3339"),
    ("anchoredAt", "2026-02-30T07:00:00Z", "not a real date"),
    ("manifestCid", "nope", "/manifestCid"),
    ("issuer", "0x1234", "/issuer"),
    ("transactionHash", "0x" + "zz" * 32, "/transactionHash"),
])
def test_anchor_proof_rejects(field: str, value: Any, fragment: str) -> None:
    tree = MerkleTree.build(_digests(3))
    p = _proof_for(tree, 1, cid_from_digest(b"\x02" * 32)).to_json()
    p[field] = value
    with pytest.raises(InputError) as info:
        AnchorProof.parse(p)
    assert info.value.code == "invalid_anchor_proof"
    assert fragment in info.value.message


def test_anchor_proof_missing_field_fails_schema_and_model() -> None:
    tree = MerkleTree.build(_digests(2))
    p = _proof_for(tree, 0, cid_from_digest(b"\x02" * 32)).to_json()
    del p["transactionHash"]
    assert not _schema("anchor-proof.schema.json").is_valid(p)
    assert not _schema("anchor-proof.schema.json", "anchorFields").is_valid(
        {k: v for k, v in p.items() if k != "type"})
    with pytest.raises(InputError) as info:
        AnchorProof.parse(p)
    assert "/transactionHash" in info.value.message


# -- attach / split ---------------------------------------------------------------------------

def test_attach_and_split() -> None:
    doc = load_document(b'{"@context":["https://www.w3.org/ns/credentials/v2"],"id":"urn:uuid:1","x":1}')
    digest = document_digest(doc)
    tree = MerkleTree.build([digest, *_digests(2)])
    proof = _proof_for(tree, 0, cid_from_digest(b"\x02" * 32))
    signed = attach_proof(doc, proof)
    assert "proof" not in doc  # input untouched
    assert signed["proof"] == [encode_anchor_proof(proof)]  # always an array, the DI form
    assert signed["proof"][0]["cryptosuite"] == "registry-anchor-2026"
    assert document_digest(signed) == digest
    body, p = split_proof(signed)
    assert body == doc and p == encode_anchor_proof(proof)
    assert p is not None and decode_anchor_proof(p) == proof
    # re-attaching replaces the old anchor proof, of either form
    again = attach_proof(signed, proof)
    assert again["proof"] == [encode_anchor_proof(proof)]
    legacy = {**doc, "proof": proof.to_json()}
    assert attach_proof(legacy, proof)["proof"] == [encode_anchor_proof(proof)]
    assert split_proof(legacy) == (doc, proof.to_json())  # the legacy form is still read
    assert split_proof(doc) == (doc, None)
    # a mapping is written as given (e.g. a legacy proof for a test of the reader)
    assert attach_proof(doc, proof.to_json())["proof"] == [proof.to_json()]


def test_attach_keeps_other_proofs() -> None:
    issuer_sig = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofValue": "z..."}
    doc = {"id": "urn:uuid:2", "proof": issuer_sig}
    tree = MerkleTree.build([document_digest(doc)])
    proof = _proof_for(tree, 0, cid_from_digest(b"\x02" * 32))
    signed = attach_proof(doc, proof)
    anchor = encode_anchor_proof(proof)
    assert signed["proof"] == [issuer_sig, anchor]
    body, p = split_proof(signed)
    assert body == {"id": "urn:uuid:2"} and p == anchor
    assert split_proofs(signed) == (body, [anchor], [issuer_sig])
    assert attach_proof(signed, proof)["proof"] == [issuer_sig, anchor]
    second = {**issuer_sig, "proofValue": "z2"}
    both = attach_proof({**doc, "proof": [issuer_sig, proof.to_json(), second]}, proof)
    assert both["proof"] == [issuer_sig, second, anchor]  # others in order, the anchor last
    assert split_proof(doc) == ({"id": "urn:uuid:2"}, None)


@pytest.mark.parametrize("form", ["legacy+di", "di+legacy", "di+di", "legacy+legacy"])
def test_two_anchor_proofs_of_any_form_are_refused(form: str) -> None:
    tree = MerkleTree.build(_digests(2))
    proof = _proof_for(tree, 0, cid_from_digest(b"\x02" * 32))
    as_form = {"legacy": proof.to_json(), "di": encode_anchor_proof(proof)}
    a, b = form.split("+")
    doc = {"id": "urn:uuid:3", "proof": [as_form[a], {"type": "DataIntegrityProof"}, as_form[b]]}
    assert len(split_proofs(doc)[1]) == 2
    with pytest.raises(InputError) as info:
        split_proof(doc)
    assert info.value.code == "multiple_anchor_proofs" and "2 anchor proofs" in info.value.message
    assert attach_proof(doc, proof)["proof"] == [{"type": "DataIntegrityProof"}, encode_anchor_proof(proof)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=30))
def test_manifest_roundtrip_property(ds: list[bytes]) -> None:
    m = Manifest.build(REGISTRY, ISSUER, ds)
    back = Manifest.parse(m.to_bytes(), check_root=True)
    assert back == m and back.digest_bytes() == ds
    assert _schema("manifest.schema.json").is_valid(back.to_json())
    tree = back.rebuild_tree()
    for i in range(len(ds)):
        p = _proof_for(tree, i, cid_from_digest(b"\x03" * 32))
        assert p.verify_inclusion()
        assert p.merkleRoot == m.root


def test_schemas_are_valid_and_match_the_models() -> None:
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    assert jsonschema_rs.meta.is_valid(schema)
    assert set(schema["required"]) == set(schema["properties"]) == set(Manifest.model_fields)
    assert schema["additionalProperties"] is False
    schema = json.loads((SCHEMAS / "anchor-proof.schema.json").read_text())
    assert jsonschema_rs.meta.is_valid(schema)
    defs = schema["$defs"]
    fields = set(AnchorProof.model_fields)
    assert set(defs["legacyProof"]["required"]) == set(defs["legacyProof"]["properties"]) == fields
    packed = fields - {"type"}
    assert set(defs["anchorFields"]["required"]) == set(defs["anchorFields"]["properties"]) == packed
    assert set(defs["anchorFieldValues"]["properties"]) == fields - {"type"}
    di = defs["dataIntegrityProof"]
    tree = MerkleTree.build(_digests(2))
    encoded = encode_anchor_proof(_proof_for(tree, 0, cid_from_digest(b"\x02" * 32)))
    assert set(di["required"]) == set(di["properties"]) == set(encoded)
    for d in ("legacyProof", "anchorFields", "dataIntegrityProof"):
        assert defs[d]["additionalProperties"] is False
    validator = _schema("anchor-proof.schema.json")
    for bad in ({**encoded, "note": 1}, {**encoded, "cryptosuite": "eddsa-rdfc-2022"},
                {**encoded, "proofValue": "z" + encoded["proofValue"][1:]},
                {**encoded, "proofValue": encoded["proofValue"] + "="},
                {**encoded, "verificationMethod": "did:pkh:eip155:31337:0x12#blockchainAccountId"},
                {**encoded, "proofPurpose": "authentication"},
                {k: v for k, v in encoded.items() if k != "created"}):
        assert not validator.is_valid(bad), bad

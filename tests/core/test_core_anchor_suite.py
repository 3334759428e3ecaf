"""The ``registry-anchor-2026`` cryptosuite: encoding, strict decoding, a corpus of bad proofs."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from registry.core.anchor_suite import (
    ANCHOR_CRYPTOSUITE,
    anchor_fields_bytes,
    decode_anchor_proof,
    encode_anchor_proof,
    encode_proof_value,
    is_anchor_proof,
    verification_method,
)
from registry.core.canonical import canonical_bytes
from registry.core.cid import cid_from_digest
from registry.core.formats import ANCHOR_PROOF_TYPE, AnchorProof
from registry.core.merkle import MerkleTree
from registry.errors import InputError

REG_ADDR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ISSUER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
REGISTRY = f"eip155:31337:{REG_ADDR}"
VM = f"did:pkh:eip155:31337:{ISSUER}#blockchainAccountId"


def _anchor(i: int = 1, n: int = 3, block: int = 12) -> AnchorProof:
    tree = MerkleTree.build([hashlib.sha256(f"doc {k}".encode()).digest() for k in range(n)])
    d = tree.digests[i]
    return AnchorProof(
        digest="0x" + d.hex(), cid=cid_from_digest(d), merkleRoot="0x" + tree.root.hex(),
        merklePath=["0x" + p.hex() for p in tree.proof(i)], registry=REGISTRY, issuer=ISSUER,
        transactionHash="0x" + "ab" * 32, blockNumber=block, anchoredAt="2026-11-29T07:00:00Z",
        manifestCid=cid_from_digest(hashlib.sha256(b"manifest").digest()),
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _fields() -> dict[str, Any]:
    f = _anchor().to_json()
    del f["type"]
    return f


def _with_value(p: dict[str, Any], raw: bytes) -> dict[str, Any]:
    return {**p, "proofValue": "u" + _b64(raw)}


# -- encoding -----------------------------------------------------------------------------------

def test_encode_shape_and_roundtrip() -> None:
    a = _anchor()
    p = encode_anchor_proof(a)
    assert list(p) == ["type", "cryptosuite", "created", "proofPurpose", "verificationMethod", "proofValue"]
    assert p["type"] == "DataIntegrityProof"
    assert p["cryptosuite"] == ANCHOR_CRYPTOSUITE == "registry-anchor-2026"
    assert p["created"] == a.anchoredAt and p["proofPurpose"] == "assertionMethod"
    assert p["verificationMethod"] == VM == verification_method(REGISTRY, ISSUER)
    raw = base64.urlsafe_b64decode(p["proofValue"][1:] + "==")
    assert raw == canonical_bytes(_fields()) == anchor_fields_bytes(a.to_json())
    assert b'"type"' not in raw and json.loads(raw) == _fields()
    assert "=" not in p["proofValue"] and p["proofValue"].startswith("u")
    assert decode_anchor_proof(p) == a
    assert decode_anchor_proof(json.loads(json.dumps(p))) == a


def test_every_path_length_roundtrips() -> None:
    # base64 lengths mod 3 vary with the path: 0, 1 and 2 padding characters dropped all occur
    rests = set()
    for n, block in ((1, 0), (2, 12), (3, 123), (5, 1234), (9, 10**9), (17, 7), (33, 2**53 - 1)):
        for i in (0, n - 1):
            a = _anchor(i, n, block)
            p = encode_anchor_proof(a)
            rests.add(len(anchor_fields_bytes(a.to_json())) % 3)
            assert decode_anchor_proof(p) == a and a.verify_inclusion()
    assert rests == {0, 1, 2}


def test_legacy_form_still_decodes() -> None:
    a = _anchor()
    assert decode_anchor_proof(a.to_json()) == a
    assert is_anchor_proof(a.to_json())


def test_is_anchor_proof() -> None:
    p = encode_anchor_proof(_anchor())
    assert is_anchor_proof(p) and is_anchor_proof({"type": ANCHOR_PROOF_TYPE})
    assert is_anchor_proof({**p, "proofValue": "garbage"})  # recognised, refused when decoded
    for other in ({"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"},
                  {"type": "DataIntegrityProof"}, {"cryptosuite": ANCHOR_CRYPTOSUITE},
                  {"type": "Ed25519Signature2020"}, [p], "proof", None, 3):
        assert not is_anchor_proof(other)


def test_worked_example_of_the_spec() -> None:
    """The example in docs/anchor-cryptosuite.md is these bytes (the doc quotes this test)."""
    a = _anchor()
    jcs = anchor_fields_bytes(a.to_json())
    assert jcs.startswith(b'{"anchoredAt":"2026-11-29T07:00:00Z","blockNumber":12,"cid":"bafkrei')
    assert encode_anchor_proof(a)["proofValue"] == "u" + _b64(jcs)
    prefix = "ueyJhbmNob3JlZEF0IjoiMjAyNi0xMS0yOVQwNzowMDowMFoi"
    assert encode_anchor_proof(a)["proofValue"].startswith(prefix)


# -- the corpus of proofs that must fail ----------------------------------------------------------

Mutation = Callable[[dict[str, Any]], Any]


def _reordered(p: dict[str, Any]) -> dict[str, Any]:
    f = _fields()
    raw = json.dumps(dict(reversed(list(f.items()))), separators=(",", ":")).encode()
    return _with_value(p, raw)


def _packed(change: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(p: dict[str, Any]) -> dict[str, Any]:
        f = _fields()
        change(f)
        return _with_value(p, canonical_bytes(f))
    return mutate


def _set(key: str, value: Any) -> Mutation:
    return lambda p: {**p, key: value}


def _drop(key: str) -> Mutation:
    return lambda p: {k: v for k, v in p.items() if k != key}


def _jcs() -> bytes:
    return canonical_bytes(_fields())


def _to_length_1_mod_4(value: str) -> str:
    text = value[1:]
    while len(text) % 4 != 1:
        text += "A"
    return "u" + text


def _unused_bits(p: dict[str, Any]) -> dict[str, Any]:
    value = p["proofValue"]
    assert len(value[1:]) % 4 in (2, 3), "the example must leave unused bits"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(value[-1])
    return {**p, "proofValue": value[:-1] + alphabet[last | 1]}


CORPUS: dict[str, tuple[Mutation, str]] = {
    "wrong cryptosuite": (_set("cryptosuite", "merkle-proof-2019"), "cryptosuite"),
    "legacy type with DI members": (_set("type", ANCHOR_PROOF_TYPE), "/cryptosuite"),
    "other proof type": (_set("type", "Ed25519Signature2020"), "type must be"),
    "wrong purpose": (_set("proofPurpose", "authentication"), "proofPurpose"),
    "no purpose": (_drop("proofPurpose"), "missing member(s) proofPurpose"),
    "no created": (_drop("created"), "missing member(s) created"),
    "no verificationMethod": (_drop("verificationMethod"), "missing member(s) verificationMethod"),
    "no proofValue": (_drop("proofValue"), "missing member(s) proofValue"),
    "created other than anchoredAt": (_set("created", "2026-11-29T07:00:01Z"), "not the anchoring time"),
    "created with offset": (_set("created", "2026-11-29T08:00:00+01:00"), "not the anchoring time"),
    "vm of another address": (_set("verificationMethod", f"did:pkh:eip155:31337:{OTHER}#blockchainAccountId"),
                              "not the anchoring account"),
    "vm of another chain": (_set("verificationMethod", f"did:pkh:eip155:1:{ISSUER}#blockchainAccountId"),
                            "not the anchoring account"),
    "vm lowercase address": (_set("verificationMethod", f"did:pkh:eip155:31337:{ISSUER.lower()}"
                                                        "#blockchainAccountId"), "not the anchoring account"),
    "vm without fragment": (_set("verificationMethod", f"did:pkh:eip155:31337:{ISSUER}"),
                            "not the anchoring account"),
    "vm as an object": (_set("verificationMethod", {"id": VM}), "not the anchoring account"),
    "extra member": (_set("challenge", "x"), "unknown member(s) challenge"),
    "extra @context": (_set("@context", "https://w3id.org/security/data-integrity/v2"), "unknown member"),
    "extra id": (_set("id", "urn:uuid:1"), "unknown member(s) id"),
    "padding": (lambda p: {**p, "proofValue": p["proofValue"] + "=" * (-(len(p["proofValue"]) - 1) % 4 or 4)},
                "unpadded base64url"),
    "standard base64 '+'": (lambda p: {**p, "proofValue": p["proofValue"][:6] + "+" + p["proofValue"][7:]},
                            "unpadded base64url"),
    "standard base64 '/'": (lambda p: {**p, "proofValue": p["proofValue"][:6] + "/" + p["proofValue"][7:]},
                            "unpadded base64url"),
    "base58btc multibase": (lambda p: {**p, "proofValue": "z" + p["proofValue"][1:]}, "starting with 'u'"),
    "no multibase prefix": (lambda p: {**p, "proofValue": p["proofValue"][1:]}, "starting with 'u'"),
    "proofValue not a string": (_set("proofValue", 12), "starting with 'u'"),
    "unused bits set": (_unused_bits, "canonical base64url"),
    "impossible length": (lambda p: {**p, "proofValue": _to_length_1_mod_4(p["proofValue"])},
                          "unpadded base64url"),
    "whitespace in base64": (lambda p: {**p, "proofValue": p["proofValue"][:9] + " " + p["proofValue"][9:]},
                             "unpadded base64url"),
    "newline in base64": (lambda p: {**p, "proofValue": p["proofValue"][:9] + "\n" + p["proofValue"][9:]},
                          "unpadded base64url"),
    "reordered JSON": (_reordered, "JCS"),
    "whitespace in JSON": (lambda p: _with_value(p, json.dumps(_fields(), sort_keys=True).encode()), "JCS"),
    "trailing newline in JSON": (lambda p: _with_value(p, canonical_bytes(_fields()) + b"\n"), "JCS"),
    "escaped ascii in JSON": (lambda p: _with_value(p, _jcs().replace(b'"cid"', b'"\\u0063id"')), "JCS"),
    "duplicate key in JSON": (lambda p: _with_value(p, canonical_bytes(_fields())[:-1] + b',"cid":"x"}'),
                              "JSON object"),
    "not JSON": (lambda p: _with_value(p, b"\x00\x01binary"), "JSON object"),
    "JSON array": (lambda p: _with_value(p, b"[]"), "JSON object"),
    "empty": (_set("proofValue", "u"), "JSON object"),
    "type packed": (_packed(lambda f: f.update(type=ANCHOR_PROOF_TYPE)), "must not contain 'type'"),
    "unknown packed field": (_packed(lambda f: f.update(note="hi")), "/note"),
    "missing packed field": (_packed(lambda f: f.pop("manifestCid")), "/manifestCid"),
    "truncated path": (_packed(lambda f: f.update(merklePath=[f["merklePath"][0][:-2]])), "merklePath[0]"),
    "bad hex in path": (_packed(lambda f: f.update(merklePath=["0x" + "zz" * 32])), "merklePath[0]"),
    "uppercase hex digest": (_packed(lambda f: f.update(digest=f["digest"].upper().replace("0X", "0x"))),
                             "/digest"),
    "bad hex root": (_packed(lambda f: f.update(merkleRoot="0x" + "g" * 64)), "/merkleRoot"),
    "block number as string": (_packed(lambda f: f.update(blockNumber="12")), "/blockNumber"),
    "block number as float": (_packed(lambda f: f.update(blockNumber=12.5)), "/blockNumber"),
    "negative block": (_packed(lambda f: f.update(blockNumber=-1)), "/blockNumber"),
    "cid of another digest": (_packed(lambda f: f.update(cid=cid_from_digest(b"\x01" * 32))),
                              "does not name the digest"),
    "unchecksummed issuer": (_packed(lambda f: f.update(issuer=ISSUER.lower())), "/issuer"),
    "unchecksummed registry": (_packed(lambda f: f.update(registry=REGISTRY.lower().replace("0X", "0x"))),
                               "/registry"),
    "bad timestamp": (_packed(lambda f: f.update(anchoredAt="2026-11-29 07:00:00")), "/anchoredAt"),
    "too long": (_set("proofValue", "u" + "A" * 70000), "longer than"),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_of_bad_proofs_is_refused(name: str) -> None:
    mutate, fragment = CORPUS[name]
    good = encode_anchor_proof(_anchor())
    bad = mutate(dict(good))
    assert bad != good
    with pytest.raises(InputError) as info:
        decode_anchor_proof(bad)
    assert info.value.code == "invalid_anchor_proof"
    assert fragment in info.value.message, info.value.message


def test_packed_issuer_of_another_address_is_tied_to_the_vm() -> None:
    """Swapping the packed issuer (a valid address) without the vm is caught by the vm check, and
    a vm rewritten to match gives a different, self-consistent proof (whose chain read then fails)."""
    good = encode_anchor_proof(_anchor())
    f = _fields()
    f["issuer"] = OTHER
    bad = _with_value(good, canonical_bytes(f))
    with pytest.raises(InputError, match="not the anchoring account"):
        decode_anchor_proof(bad)
    moved = {**bad, "verificationMethod": f"did:pkh:eip155:31337:{OTHER}#blockchainAccountId"}
    assert decode_anchor_proof(moved).issuer == OTHER


def test_non_mapping_refused() -> None:
    for bad in ([encode_anchor_proof(_anchor())], "x", None):
        with pytest.raises(InputError) as info:
            decode_anchor_proof(bad)  # type: ignore[arg-type]
        assert info.value.code == "invalid_anchor_proof"


def test_one_encoding_only() -> None:
    """Re-encoding the decoded proof gives the same object, member for member."""
    good = encode_anchor_proof(_anchor())
    assert encode_anchor_proof(decode_anchor_proof(good)) == good
    assert encode_proof_value(anchor_fields_bytes(_fields())) == good["proofValue"]


# -- JSON-LD: every member of the proof is a defined term ----------------------------------------

def _expanded_proof_keys(proof: dict[str, Any]) -> set[str]:
    from pyld import jsonld

    from registry.core.dataintegrity.contexts import StaticLoader

    doc = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
           "issuer": "did:example:1", "credentialSubject": {"id": "did:example:2"}, "proof": [proof]}
    out = jsonld.expand(doc, {"documentLoader": StaticLoader()})
    graph = out[0]["https://w3id.org/security#proof"][0]["@graph"][0]
    return {k for k in graph if k != "@type"} | set(graph.get("@type", []))


def test_every_member_expands_under_the_vc2_context() -> None:
    """What jsonld.js safe mode needs: no member is dropped by expansion (the legacy form loses
    all ten of its fields; F's node oracle checks the same in safe mode)."""
    keys = _expanded_proof_keys(encode_anchor_proof(_anchor()))
    sec = "https://w3id.org/security#"
    assert keys == {sec + "DataIntegrityProof", sec + "cryptosuite", "http://purl.org/dc/terms/created",
                    sec + "proofPurpose", sec + "verificationMethod", sec + "proofValue"}
    legacy = _expanded_proof_keys(_anchor().to_json())
    assert len(legacy) == 1 and not any(k.startswith(sec) for k in legacy)  # only a relative @type is left

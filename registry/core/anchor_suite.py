"""The ``registry-anchor-2026`` cryptosuite: the anchor proof as a W3C Data Integrity proof.

A credential anchored by the registry carries, in its ``proof`` array, one proof of this form::

    {"type": "DataIntegrityProof",
     "cryptosuite": "registry-anchor-2026",
     "created": "<anchoredAt>",
     "proofPurpose": "assertionMethod",
     "verificationMethod": "did:pkh:eip155:<chainId>:<issuer address, EIP-55>#blockchainAccountId",
     "proofValue": "u<base64url, no padding, of the RFC 8785 (JCS) bytes of the anchor fields>"}

The anchor fields are :class:`registry.core.formats.AnchorProof` without ``type`` (digest, cid,
merkleRoot, merklePath, registry, issuer, transactionHash, blockNumber, anchoredAt, manifestCid).
There is exactly one encoding of a given anchor: decoding re-encodes and compares. The legacy
``CredentialRegistryAnchor2026`` object (the fields in the clear) is still read. Pure: no I/O.
The specification is ``docs/anchor-cryptosuite.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from registry.core.canonical import canonical_bytes, load_document
from registry.core.formats import ANCHOR_PROOF_TYPE, AnchorProof, parse_registry
from registry.errors import CanonicalizationError, InputError

__all__ = [
    "ANCHOR_CRYPTOSUITE",
    "DI_PROOF_TYPE",
    "PROOF_PURPOSE",
    "VM_FRAGMENT",
    "BatchEncoder",
    "anchor_fields_bytes",
    "decode_anchor_proof",
    "encode_anchor_proof",
    "encode_proof_value",
    "is_anchor_proof",
    "verification_method",
]

ANCHOR_CRYPTOSUITE = "registry-anchor-2026"
DI_PROOF_TYPE = "DataIntegrityProof"
PROOF_PURPOSE = "assertionMethod"
VM_FRAGMENT = "blockchainAccountId"

_MEMBERS = ("type", "cryptosuite", "created", "proofPurpose", "verificationMethod", "proofValue")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
MAX_PROOF_VALUE_CHARS = 64 * 1024  # the proof of a 2**32-leaf batch (32 path hashes) is ~3.7 KB


def _fail(what: str) -> InputError:
    return InputError(f"invalid anchor proof: {what}", code="invalid_anchor_proof")


def is_anchor_proof(p: Any) -> bool:
    """True for a legacy ``CredentialRegistryAnchor2026`` proof or a ``DataIntegrityProof`` whose
    cryptosuite is ``registry-anchor-2026`` (whether or not it is valid: that is for decoding)."""
    if not isinstance(p, Mapping):
        return False
    kind = p.get("type")
    if kind == ANCHOR_PROOF_TYPE:
        return True
    return kind == DI_PROOF_TYPE and p.get("cryptosuite") == ANCHOR_CRYPTOSUITE


def verification_method(registry: str, issuer: str) -> str:
    """``did:pkh:eip155:<chainId>:<issuer>#blockchainAccountId`` for a registry reference
    ``eip155:<chainId>:<address>`` and the (checksummed) anchoring address."""
    chain_id, _ = parse_registry(registry)
    return f"did:pkh:eip155:{chain_id}:{issuer}#{VM_FRAGMENT}"


def _vm_of(proof: AnchorProof) -> str:
    """The did:pkh of a validated anchor (its registry and issuer are already checked)."""
    return f"did:pkh:eip155:{proof.registry.split(':')[1]}:{proof.issuer}#{VM_FRAGMENT}"


def anchor_fields_bytes(fields: Mapping[str, Any]) -> bytes:
    """The JCS bytes of the anchor fields (an ``AnchorProof`` JSON object without ``type``)."""
    return canonical_bytes({k: v for k, v in fields.items() if k != "type"})


def encode_proof_value(jcs: bytes) -> str:
    """Multibase base64url (``u``), no padding, of the JCS bytes."""
    return "u" + base64.urlsafe_b64encode(jcs).rstrip(b"=").decode("ascii")


def encode_anchor_proof(proof: AnchorProof) -> dict[str, Any]:
    """The ``DataIntegrityProof`` object carrying ``proof`` (members in the order shown above)."""
    fields = proof.to_json()
    return {
        "type": DI_PROOF_TYPE,
        "cryptosuite": ANCHOR_CRYPTOSUITE,
        "created": proof.anchoredAt,
        "proofPurpose": PROOF_PURPOSE,
        "verificationMethod": _vm_of(proof),
        "proofValue": encode_proof_value(anchor_fields_bytes(fields)),
    }


def _unpack(value: Any) -> dict[str, Any]:
    """The anchor fields packed in ``proofValue``; refuses every encoding but the one."""
    if not isinstance(value, str) or not value.startswith("u"):
        raise _fail("proofValue must be a multibase base64url string (starting with 'u')")
    if len(value) > MAX_PROOF_VALUE_CHARS:
        raise _fail(f"proofValue is longer than the cap of {MAX_PROOF_VALUE_CHARS} characters")
    text = value[1:]
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise _fail("proofValue is not unpadded base64url (alphabet A-Z a-z 0-9 - _, no '=')")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _fail("proofValue is not unpadded base64url") from None
    if encode_proof_value(raw) != value:
        raise _fail("proofValue is not the canonical base64url of its bytes (unused bits set)")
    try:
        fields = load_document(raw, max_bytes=MAX_PROOF_VALUE_CHARS)
    except (CanonicalizationError, InputError) as exc:
        raise _fail(f"proofValue does not hold a JSON object: {exc.message}") from None
    if "type" in fields:
        raise _fail("the packed anchor fields must not contain 'type'")
    try:
        canonical = anchor_fields_bytes(fields)
    except CanonicalizationError as exc:
        raise _fail(f"the packed anchor fields cannot be canonicalised: {exc.message}") from None
    if canonical != raw:
        raise _fail("the packed anchor fields are not in RFC 8785 (JCS) form")
    return fields


def _decode_di(p: Mapping[str, Any]) -> AnchorProof:
    extra = sorted(str(k) for k in p if k not in _MEMBERS)
    if extra:
        raise _fail(f"unknown member(s) {', '.join(extra)}")
    missing = [k for k in _MEMBERS if k not in p]
    if missing:
        raise _fail(f"missing member(s) {', '.join(missing)}")
    if p["proofPurpose"] != PROOF_PURPOSE:
        raise _fail(f"proofPurpose must be {PROOF_PURPOSE!r}, got {str(p['proofPurpose'])[:60]!r}")
    fields = _unpack(p["proofValue"])
    proof = AnchorProof.parse({"type": ANCHOR_PROOF_TYPE, **fields})
    if p["created"] != proof.anchoredAt:
        raise _fail(f"created {str(p['created'])[:40]!r} is not the anchoring time {proof.anchoredAt}")
    expected = _vm_of(proof)
    if p["verificationMethod"] != expected:
        raise _fail(f"verificationMethod {str(p['verificationMethod'])[:120]!r} is not the anchoring "
                    f"account {expected}")
    return proof


def decode_anchor_proof(p: Mapping[str, Any]) -> AnchorProof:
    """The anchor of a proof object in either form, strictly validated.

    ``InputError(code="invalid_anchor_proof")`` naming what is wrong: not an anchor proof, a wrong
    cryptosuite or purpose, unknown members, a ``proofValue`` that is not the one encoding of valid
    anchor fields, ``created`` other than ``anchoredAt``, a ``verificationMethod`` other than the
    did:pkh of the registry's chain and the issuer address.
    """
    if not isinstance(p, Mapping):
        raise _fail(f"must be a JSON object, got {type(p).__name__}")
    kind = p.get("type")
    if kind == ANCHOR_PROOF_TYPE:
        return AnchorProof.parse(p)
    if kind != DI_PROOF_TYPE:
        raise _fail(f"type must be {DI_PROOF_TYPE!r} (or {ANCHOR_PROOF_TYPE!r}), got {str(kind)[:60]!r}")
    if p.get("cryptosuite") != ANCHOR_CRYPTOSUITE:
        raise _fail(f"cryptosuite must be {ANCHOR_CRYPTOSUITE!r}, got {str(p.get('cryptosuite'))[:60]!r}")
    return _decode_di(p)


def _js(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


class BatchEncoder:
    """Encodes the anchor proofs of one batch fast: the JCS text of the members every credential
    of the batch shares is written once, each proof only fills in ``cid``, ``digest`` and
    ``merklePath`` (byte-identical to :func:`encode_anchor_proof`, which the pipeline checks on the
    first proof of every batch by decoding it; tests check it on many).

    ``common`` holds registry, issuer, transactionHash, blockNumber, anchoredAt, manifestCid, all
    ASCII strings except blockNumber (a non-negative integer below 2**53), as the pipeline has them.
    """

    __slots__ = ("_head", "_mid", "_tail", "_created", "_vm", "_json_head")

    def __init__(self, root_hex: str, common: Mapping[str, Any]) -> None:
        """Precompute the shared parts for a batch of Merkle root ``root_hex``."""
        block = common["blockNumber"]
        if type(block) is not int or not 0 <= block < 2**53:
            raise _fail(f"blockNumber must be an integer in [0, 2**53), got {block!r}")
        # JCS member order: anchoredAt blockNumber cid digest issuer manifestCid merklePath
        # merkleRoot registry transactionHash
        self._head = f'{{"anchoredAt":{_js(common["anchoredAt"])},"blockNumber":{block},"cid":'
        self._mid = (f',"issuer":{_js(common["issuer"])},"manifestCid":{_js(common["manifestCid"])},'
                     '"merklePath":[')
        self._tail = (f'],"merkleRoot":{_js(root_hex)},"registry":{_js(common["registry"])},'
                      f'"transactionHash":{_js(common["transactionHash"])}}}')
        self._created = common["anchoredAt"]
        self._vm = verification_method(common["registry"], common["issuer"])
        self._json_head = (f'{{"type":"{DI_PROOF_TYPE}","cryptosuite":"{ANCHOR_CRYPTOSUITE}",'
                           f'"created":{json.dumps(self._created)},"proofPurpose":"{PROOF_PURPOSE}",'
                           f'"verificationMethod":{json.dumps(self._vm)},"proofValue":"u').encode()

    def fields_bytes(self, digest_hex: str, cid: str, path: list[bytes]) -> bytes:
        """The JCS bytes of one credential's anchor fields."""
        hops = ",".join(f'"0x{p.hex()}"' for p in path)
        return f'{self._head}{_js(cid)},"digest":{_js(digest_hex)}{self._mid}{hops}{self._tail}'.encode()

    def proof_json(self, digest_hex: str, cid: str, path: list[bytes]) -> bytes:
        """The compact JSON of :meth:`proof` (``json.dumps(proof, separators=(",", ":"))``),
        written without serialising a dict."""
        value = base64.urlsafe_b64encode(self.fields_bytes(digest_hex, cid, path)).rstrip(b"=")
        return self._json_head + value + b'"}'

    def proof(self, digest_hex: str, cid: str, path: list[bytes]) -> dict[str, Any]:
        """The ``DataIntegrityProof`` of one credential (same members and order as
        :func:`encode_anchor_proof`)."""
        return {
            "type": DI_PROOF_TYPE,
            "cryptosuite": ANCHOR_CRYPTOSUITE,
            "created": self._created,
            "proofPurpose": PROOF_PURPOSE,
            "verificationMethod": self._vm,
            "proofValue": encode_proof_value(self.fields_bytes(digest_hex, cid, path)),
        }

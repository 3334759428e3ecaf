"""Pure core: canonical form, digest, CID, Merkle tree, formats. No I/O in this package."""

from registry.core.canonical import canonical_bytes, document_digest, load_document, parse_json, sha256
from registry.core.cid import ParsedCid, cid_for_bytes, cid_from_digest, digest_from_cid, parse_cid, same_cid
from registry.core.formats import (
    AnchorProof,
    Manifest,
    attach_proof,
    format_registry,
    parse_registry,
    split_proof,
)
from registry.core.hexutil import bytes32, to_hex
from registry.core.merkle import MerkleTree, MultiProof, leaf_hash, verify_multiproof, verify_proof

__all__ = [
    "AnchorProof",
    "Manifest",
    "MerkleTree",
    "MultiProof",
    "ParsedCid",
    "attach_proof",
    "bytes32",
    "canonical_bytes",
    "cid_for_bytes",
    "cid_from_digest",
    "digest_from_cid",
    "document_digest",
    "format_registry",
    "leaf_hash",
    "load_document",
    "parse_cid",
    "parse_json",
    "parse_registry",
    "same_cid",
    "sha256",
    "split_proof",
    "to_hex",
    "verify_multiproof",
    "verify_proof",
]

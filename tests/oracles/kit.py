"""Small helpers of the oracle tests: Ed25519 keys from seeds, documents signed by our signer."""

from __future__ import annotations

import copy
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.core.dataintegrity import didkey
from registry.core.dataintegrity import eddsa_rdfc_2022 as eddsa


def public_key(seed: bytes) -> bytes:
    """The raw 32-byte Ed25519 public key of a seed."""
    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def signed_by_us(seed: bytes, doc: dict[str, Any], created: str, vm: str | None = None) -> dict[str, Any]:
    """``doc`` with ``proof: [<our eddsa-rdfc-2022 proof>]`` (did:key method of ``seed`` by default)."""
    method = vm or didkey.verification_method_id(public_key(seed))
    out = copy.deepcopy(doc)
    out["proof"] = [eddsa.create_proof(doc, seed, method, created)]
    return out

"""Public formats: the batch manifest, the anchor proof, registry references.

These are a public contract (other programs read them); JSON Schemas for both live in
``schemas/manifest.schema.json`` and ``schemas/anchor-proof.schema.json``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from eth_utils import is_hex_address, to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from registry.core.canonical import canonical_bytes, load_document
from registry.core.cid import digest_from_cid, parse_cid
from registry.core.merkle import MerkleTree, verify_proof
from registry.errors import InputError

__all__ = [
    "ANCHOR_PROOF_TYPE",
    "MANIFEST_FORMAT",
    "AnchorProof",
    "Manifest",
    "attach_proof",
    "checksum_address",
    "format_registry",
    "format_timestamp",
    "parse_registry",
    "issuer_id_matches",
    "split_proof",
    "split_proofs",
]

MANIFEST_FORMAT = "credential-registry/manifest/v1"
ANCHOR_PROOF_TYPE = "CredentialRegistryAnchor2026"

_HEX32 = re.compile(r"0x[0-9a-f]{64}")
_REGISTRY = re.compile(r"eip155:([1-9][0-9]{0,19}):(0x[0-9a-fA-F]{40})")
_UTC_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


def checksum_address(address: str, *, what: str = "address") -> str:
    """EIP-55 checksummed form of a 20-byte hex address; rejects anything else."""
    if not isinstance(address, str) or not is_hex_address(address):
        raise InputError(f"{what} is not a 20-byte hex address: {str(address)[:60]!r}",
                         code="invalid_address")
    return str(to_checksum_address(address))


def format_registry(chain_id: int, address: str) -> str:
    """CAIP-10 style registry reference ``eip155:<chainId>:<checksummed address>``."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise InputError(f"chain id must be a positive integer, got {chain_id!r}", code="invalid_registry")
    return f"eip155:{chain_id}:{checksum_address(address, what='registry address')}"


def parse_registry(s: str) -> tuple[int, str]:
    """``eip155:<chainId>:<address>`` -> ``(chain_id, checksummed address)``."""
    m = _REGISTRY.fullmatch(s) if isinstance(s, str) else None
    if m is None:
        raise InputError(f"registry must look like eip155:<chainId>:<0x address>, got {str(s)[:100]!r}",
                         code="invalid_registry")
    return int(m.group(1)), checksum_address(m.group(2), what="registry address")


def format_timestamp(when: datetime | int) -> str:
    """RFC 3339 UTC timestamp with second precision (``2026-11-29T07:00:00Z``)."""
    if isinstance(when, int):
        when = datetime.fromtimestamp(when, tz=UTC)
    if when.tzinfo is None:
        raise InputError("timestamp must be timezone-aware", code="invalid_timestamp")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hex32(v: Any, what: str) -> str:
    if not isinstance(v, str) or not _HEX32.fullmatch(v):
        raise ValueError(f"{what} must be 0x followed by 64 lowercase hex digits")
    return v


def _checked_registry(v: Any) -> str:
    try:
        chain_id, addr = parse_registry(v)
    except InputError as exc:
        raise ValueError(exc.message) from None
    if v != f"eip155:{chain_id}:{addr}":
        raise ValueError("registry address must be EIP-55 checksummed")
    return str(v)


def _checked_address(v: Any) -> str:
    try:
        addr = checksum_address(v, what="issuer")
    except InputError as exc:
        raise ValueError(exc.message) from None
    if v != addr:
        raise ValueError("issuer address must be EIP-55 checksummed")
    return addr


def _model_error(exc: PydanticValidationError, what: str) -> InputError:
    parts = []
    for err in exc.errors():
        loc = "/" + "/".join(str(p) for p in err["loc"]) if err["loc"] else "(document)"
        parts.append(f"{loc}: {err['msg']}")
    return InputError(f"invalid {what}: " + "; ".join(parts), code=f"invalid_{what.replace(' ', '_')}",
                      errors=parts)


RegistryRef = Annotated[str, AfterValidator(_checked_registry)]
"""A registry reference ``eip155:<chainId>:<checksummed address>``, validated."""
IssuerAddress = Annotated[str, AfterValidator(_checked_address)]
"""An issuer's Ethereum address, validated and checksummed."""


class Manifest(BaseModel):
    """A sealed batch: everything needed to rebuild its Merkle root, and no personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["credential-registry/manifest/v1"] = "credential-registry/manifest/v1"
    registry: RegistryRef
    issuer: IssuerAddress
    tree: Literal["oz-standard-v1:bytes32"] = "oz-standard-v1:bytes32"
    root: str
    count: int = Field(ge=1, le=2**32 - 1)
    digests: list[str]

    @field_validator("root")
    @classmethod
    def _root(cls, v: Any) -> str:
        return _hex32(v, "root")

    @field_validator("digests")
    @classmethod
    def _digests(cls, v: list[Any]) -> list[str]:
        for i, d in enumerate(v):
            _hex32(d, f"digest #{i}")
        return v

    @model_validator(mode="after")
    def _count(self) -> Manifest:
        if self.count != len(self.digests):
            raise ValueError(f"count is {self.count} but {len(self.digests)} digests are listed")
        return self

    @classmethod
    def build(cls, registry: str, issuer: str, digests: Sequence[bytes]) -> Manifest:
        """Manifest of a batch: digests in tree input order, root computed here."""
        tree = MerkleTree.build(digests)
        return cls.from_tree(registry, issuer, tree)

    @classmethod
    def from_tree(cls, registry: str, issuer: str, tree: MerkleTree) -> Manifest:
        """Manifest of an already built tree (avoids hashing twice)."""
        chain_id, addr = parse_registry(registry)
        try:
            return cls(
                registry=format_registry(chain_id, addr),
                issuer=checksum_address(issuer, what="issuer"),
                root="0x" + tree.root.hex(),
                count=len(tree.digests),
                digests=["0x" + d.hex() for d in tree.digests],
            )
        except PydanticValidationError as exc:
            raise _model_error(exc, "manifest") from None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON object."""
        return self.model_dump(mode="json")

    def to_bytes(self) -> bytes:
        """Canonical (RFC 8785) bytes: what gets pinned."""
        return canonical_bytes(self.to_json())

    @classmethod
    def parse(cls, data: bytes | str | Mapping[str, Any], *, check_root: bool = False) -> Manifest:
        """Parse and validate a manifest (strict JSON); optionally check that the root rebuilds."""
        doc = dict(data) if isinstance(data, Mapping) else load_document(data, max_bytes=256 * 1024 * 1024)
        try:
            m = cls.model_validate(doc)
        except PydanticValidationError as exc:
            raise _model_error(exc, "manifest") from None
        if check_root and not m.root_matches():
            raise InputError(f"manifest root {m.root} does not match its digests",
                             code="manifest_root_mismatch")
        return m

    def digest_bytes(self) -> list[bytes]:
        """The digests as bytes, in tree input order."""
        return [bytes.fromhex(d[2:]) for d in self.digests]

    def rebuild_tree(self) -> MerkleTree:
        """The Merkle tree of the listed digests."""
        return MerkleTree.build(self.digest_bytes())

    def rebuild_root(self) -> bytes:
        """Root recomputed from the digests (compare with :attr:`root`)."""
        return self.rebuild_tree().root

    def root_matches(self) -> bool:
        """True when the listed root is the root of the listed digests."""
        return "0x" + self.rebuild_root().hex() == self.root


class AnchorProof(BaseModel):
    """The anchor of one credential: the fields the ``registry-anchor-2026`` proof packs.

    This model is the internal representation and the legacy ``CredentialRegistryAnchor2026``
    proof object (read, no longer written); :mod:`registry.core.anchor_suite` encodes it as the
    ``DataIntegrityProof`` written into credentials and decodes either form.

    Strictly typed: no coercion (``blockNumber: "5"`` or ``5.0`` is refused, like an unknown field).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    type: Literal["CredentialRegistryAnchor2026"] = "CredentialRegistryAnchor2026"
    digest: str
    cid: str
    merkleRoot: str
    merklePath: list[str]
    registry: RegistryRef
    issuer: IssuerAddress
    transactionHash: str
    blockNumber: int = Field(ge=0)
    anchoredAt: str
    manifestCid: str

    @field_validator("digest", "merkleRoot", "transactionHash")
    @classmethod
    def _h32(cls, v: Any, info: Any) -> str:
        return _hex32(v, info.field_name)

    @field_validator("merklePath")
    @classmethod
    def _path(cls, v: list[Any]) -> list[str]:
        for i, p in enumerate(v):
            _hex32(p, f"merklePath[{i}]")
        return v

    @field_validator("anchoredAt")
    @classmethod
    def _ts(cls, v: Any) -> str:
        if not isinstance(v, str) or not _UTC_TS.fullmatch(v):
            raise ValueError("anchoredAt must be an RFC 3339 UTC timestamp like 2026-11-29T07:00:00Z")
        try:
            datetime.fromisoformat(v.replace("Z", "+00:00")[:19])
        except ValueError as exc:
            raise ValueError(f"anchoredAt is not a real date/time: {exc}") from None
        return v

    @field_validator("manifestCid")
    @classmethod
    def _manifest_cid(cls, v: Any) -> str:
        try:
            parse_cid(v)
        except InputError as exc:
            raise ValueError(exc.message) from None
        return str(v)

    @model_validator(mode="after")
    def _cid_matches(self) -> AnchorProof:
        try:
            d = digest_from_cid(self.cid)
        except InputError as exc:
            raise ValueError(f"cid: {exc.message}") from None
        if "0x" + d.hex() != self.digest:
            raise ValueError("cid does not name the digest (CIDv1 raw sha2-256 of the same bytes expected)")
        return self

    @classmethod
    def parse(cls, data: Mapping[str, Any] | bytes | str) -> AnchorProof:
        """Validate a proof object (or its JSON bytes); raise ``InputError`` naming each bad field."""
        doc = dict(data) if isinstance(data, Mapping) else load_document(data)
        try:
            return cls.model_validate(doc)
        except PydanticValidationError as exc:
            raise _model_error(exc, "anchor proof") from None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON object."""
        return self.model_dump(mode="json")

    def digest_bytes(self) -> bytes:
        """The credential digest as bytes."""
        return bytes.fromhex(self.digest[2:])

    def root_bytes(self) -> bytes:
        """The Merkle root as bytes."""
        return bytes.fromhex(self.merkleRoot[2:])

    def path_bytes(self) -> list[bytes]:
        """The Merkle path as bytes."""
        return [bytes.fromhex(p[2:]) for p in self.merklePath]

    def verify_inclusion(self) -> bool:
        """True when ``merklePath`` links ``digest`` to ``merkleRoot`` (no chain access)."""
        return verify_proof(self.root_bytes(), self.digest_bytes(), self.path_bytes())


def _is_anchor_proof(p: Any) -> bool:
    from registry.core.anchor_suite import is_anchor_proof  # the suite imports this module

    return is_anchor_proof(p)


def attach_proof(doc: Mapping[str, Any], proof: AnchorProof | Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` whose ``proof`` is the array ``[...other proofs, anchor proof]``.

    An :class:`AnchorProof` is written in its Data Integrity form (``registry-anchor-2026``, see
    :mod:`registry.core.anchor_suite`); a mapping is written as given. An earlier anchor proof, in
    either form, is replaced; other proofs (e.g. the issuer's own signature) are kept, in order.
    ``proof`` is always an array in what the registry writes (the OB 3.0 schema requires it).
    """
    if isinstance(proof, AnchorProof):
        from registry.core.anchor_suite import encode_anchor_proof

        p = encode_anchor_proof(proof)
    else:
        p = dict(proof)
    out = copy.deepcopy(dict(doc))
    existing = out.get("proof")
    items = [] if existing is None else existing if isinstance(existing, list) else [existing]
    out["proof"] = [*(x for x in items if not _is_anchor_proof(x)), p]
    return out


def split_proofs(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    """``(document without its proof member, its anchor proofs, its other proofs)``.

    ``proof`` may be absent, one object or an array (W3C VC); anything else is an ``InputError``.
    Anchor proofs are those of either form (a ``registry-anchor-2026`` ``DataIntegrityProof`` or a
    legacy ``CredentialRegistryAnchor2026`` object), returned undecoded. The one rule every tool
    follows: a document carries at most one anchor proof, whatever its form; other proofs are
    returned so that they can be reported, they are never covered by the anchor (its digest is of
    the document without ``proof``).
    """
    from registry.core.anchor_suite import is_anchor_proof

    body = {k: v for k, v in doc.items() if k != "proof"}
    if "proof" not in doc:
        return body, [], []
    existing = doc["proof"]
    items = existing if isinstance(existing, list) else [existing]
    anchors: list[dict[str, Any]] = []
    others: list[Any] = []
    for i, x in enumerate(items):
        if not isinstance(x, Mapping):
            where = f"proof[{i}]" if isinstance(existing, list) else "proof"
            raise InputError(f"{where} must be an object, got {type(x).__name__}", code="invalid_proof")
        if is_anchor_proof(x):
            anchors.append(dict(x))
        else:
            others.append(dict(x))
    return body, anchors, others


def split_proof(doc: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(document without its proof member, its one anchor proof or None)``, undecoded.

    More than one anchor proof (a legacy and a Data Integrity one count as two) is refused
    (``multiple_anchor_proofs``): which one counts must never depend on the tool. Decode the
    result with :func:`registry.core.anchor_suite.decode_anchor_proof`.
    """
    body, anchors, _ = split_proofs(doc)
    if len(anchors) > 1:
        raise InputError(
            f"the document carries {len(anchors)} anchor proofs; exactly one is allowed",
            code="multiple_anchor_proofs",
        )
    return body, (anchors[0] if anchors else None)


def issuer_id_matches(claimed: str, registered: str) -> bool:
    """True when a document's issuer id ``claimed`` is covered by an issuer's registered URI.

    Equal strings match. An ``http(s)`` URI also covers the URLs below it on the same origin
    (registered ``https://uni.example`` covers ``https://uni.example/issuer``, never
    ``https://uni.example.evil`` nor ``https://mit.edu``). Scheme and host compare case-insensitively.
    """
    if not isinstance(claimed, str) or not isinstance(registered, str) or not registered:
        return False
    if claimed == registered:
        return True
    from urllib.parse import urlsplit

    try:
        c, r = urlsplit(claimed), urlsplit(registered)
        c_port, r_port = c.port, r.port
    except ValueError:
        return False
    if r.scheme.lower() not in ("http", "https") or not r.hostname or r.query or r.fragment:
        return False
    if (c.scheme.lower(), c.hostname, c_port) != (r.scheme.lower(), r.hostname, r_port):
        return False
    if c.username is not None or r.username is not None:
        return False
    base = r.path.rstrip("/")
    return c.path == base or c.path == base + "/" or c.path.startswith(base + "/")

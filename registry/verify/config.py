"""What the verification core needs from the settings: the trusted registries, the limits and the
verifier's policies (require an issuer signature, require the did:web domain check)."""

from __future__ import annotations

from dataclasses import dataclass

from registry.core.formats import format_registry, parse_registry
from registry.settings import Settings


@dataclass(frozen=True)
class VerifyConfig:
    """What the core needs from the settings."""

    trusted: frozenset[tuple[int, str]]
    confirmations: int = 1
    max_document_bytes: int = 1024 * 1024
    max_depth: int = 64
    strict: bool = False
    require_signature: bool = False  # no verified issuer signature -> invalid
    require_domain: bool = False  # a did:web DID document that cannot be fetched -> indeterminate

    @classmethod
    def from_settings(cls, settings: Settings, *, chain_id: int | None = None) -> VerifyConfig:
        """Allowlist from ``trusted_registries``; else the configured contract on its chain."""
        trusted: set[tuple[int, str]] = set()
        for ref in settings.trusted_registries:
            trusted.add(parse_registry(ref))
        cid = settings.chain_id or chain_id
        if not trusted and settings.contract and cid:
            trusted.add(parse_registry(format_registry(cid, settings.contract)))
        return cls(
            trusted=frozenset(trusted),
            confirmations=settings.confirmations,
            max_document_bytes=settings.max_document_bytes,
            max_depth=settings.max_depth,
            strict=settings.strict,
            require_signature=settings.verify_require_signature,
            require_domain=settings.verify_require_did_web,
        )

    def contracts_on(self, chain_id: int) -> list[str]:
        """Trusted contract addresses on one chain."""
        return sorted(a for c, a in self.trusted if c == chain_id)

"""What the verification core needs from the settings: the trusted registries and the limits."""

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
        )

    def contracts_on(self, chain_id: int) -> list[str]:
        """Trusted contract addresses on one chain."""
        return sorted(a for c, a in self.trusted if c == chain_id)

"""One exception family with stable codes, shared by every layer.

The CLI prints ``code: message`` on one line and exits non-zero; the HTTP API maps an error to an
RFC 9457 problem document whose ``type`` ends in the code. Codes are stable: other programs match
on them. Messages must never contain secrets (private keys, passwords).
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """Base class: every error the registry raises on purpose carries a stable ``code``."""

    code: str = "registry_error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InputError(RegistryError):
    """Bad input from a user: malformed JSON, wrong types, oversized documents."""

    code = "invalid_input"
    http_status = 422


class CanonicalizationError(InputError):
    """A document that JCS cannot represent faithfully."""

    code = "canonicalization_failed"


class ValidationError(InputError):
    """A credential that does not follow the W3C VC / Open Badges structure."""

    code = "invalid_credential"


class ConfigError(RegistryError):
    """Missing or inconsistent configuration."""

    code = "config_error"
    http_status = 500


class ChainError(RegistryError):
    """The chain could not be read or written (node down, timeout, garbage answer)."""

    code = "chain_unavailable"
    http_status = 503


class ContractRevert(RegistryError):
    """A transaction or call reverted with a known custom error."""

    code = "contract_revert"
    http_status = 409


class StoreError(RegistryError):
    """The content store (local folder or IPFS daemon) failed or returned bad content."""

    code = "store_error"
    http_status = 503


class NotFoundError(RegistryError):
    """A requested object does not exist."""

    code = "not_found"
    http_status = 404


class KeyError_(RegistryError):
    """A signing key could not be loaded (wrong password, missing file). Never includes the key."""

    code = "key_error"
    http_status = 500

"""Stand-in for ``registry.core.credential`` until the core area's module is present.

Only what the verifier needs: the kind of document and its validity window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.errors import ValidationError


@dataclass(frozen=True)
class CredentialInfo:
    """What the verifier reads from a credential."""

    kind: str
    valid_from: datetime | None
    valid_until: datetime | None
    issuer: str | None
    name: str | None


def _time(doc: Mapping[str, Any], key: str) -> datetime | None:
    v = doc.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValidationError(f"{key} must be a date-time string")
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{key} is not an RFC 3339 date-time: {v[:40]!r}") from None
    if t.tzinfo is None:
        raise ValidationError(f"{key} must carry a time zone")
    return t


def validate_credential(doc: Mapping[str, Any], *, strict: bool = False) -> CredentialInfo:
    """Kind and validity window of a credential document."""
    types = doc.get("type")
    types = types if isinstance(types, list) else [types]
    kind = "plain"
    if "VerifiableCredential" in types:
        kind = "ob3" if "OpenBadgeCredential" in types else "vc2"
    issuer = doc.get("issuer")
    iss = issuer.get("id") if isinstance(issuer, Mapping) else issuer if isinstance(issuer, str) else None
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    return CredentialInfo(kind, _time(doc, "validFrom"), _time(doc, "validUntil"), iss, name)

"""What a certificate or badge prints about one credential: read once from its JSON bytes."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.core.canonical import document_digest, load_document
from registry.core.formats import split_proofs
from registry.errors import InputError

MAX_IMAGE_BYTES = 2 * 1024 * 1024  # an achievement image carried as a data: URI
MAX_DESCRIPTION = 280  # characters of the description a certificate prints
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # the creation date when a credential names none
_DATA_URI = re.compile(r"data:(image/(?:png|svg\+xml))(;base64)?,(.*)", re.S | re.I)


@dataclass(frozen=True)
class Facts:
    """The printed facts of one credential (plain text, never markup) and its bytes."""

    credential: bytes  # the JSON bytes, as given (embedded unchanged)
    digest: str  # 0x + 64 hex: sha256 of the JCS of the document without its proof
    issuer_address: str | None  # from the anchor proof
    issuer_name: str
    recipient: str
    achievement: str
    description: str | None
    results: tuple[str, ...]  # e.g. "Grade: A" (at most three)
    issued: datetime  # validFrom, awardedDate, issuanceDate, else the anchor time, else EPOCH
    image: tuple[str, bytes] | None  # (image/png | image/svg+xml, bytes) from a data: URI


def _short(value: str | None, limit: int) -> str | None:
    if not value:
        return None
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    cut = value[:limit].rsplit(" ", 1)[0] if " " in value[:limit] else value[:limit]
    return cut.rstrip(" ,.;:") + "…"


def _date(*values: Any) -> datetime | None:
    for v in values:
        if isinstance(v, str) and v:
            try:
                d = datetime.fromisoformat(v.replace("z", "Z"))
            except ValueError:
                continue
            return (d if d.tzinfo else d.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)
    return None


def _image(achievement: Mapping[str, Any]) -> tuple[str, bytes] | None:
    """The achievement's image when the document carries it as a PNG or SVG data: URI."""
    raw = achievement.get("image")
    uri = raw.get("id") if isinstance(raw, Mapping) else raw
    if not isinstance(uri, str) or len(uri) > MAX_IMAGE_BYTES * 2:
        return None
    m = _DATA_URI.fullmatch(uri.strip())
    if m is None:
        return None
    try:
        data = base64.b64decode(m.group(3), validate=True) if m.group(2) else (
            urllib.parse.unquote_to_bytes(m.group(3))
        )
    except (binascii.Error, ValueError):
        return None
    return (m.group(1).lower(), data) if 0 < len(data) <= MAX_IMAGE_BYTES else None


def read_facts(credential: bytes) -> Facts:
    """The facts of a credential JSON document (with or without its anchor proof); ``InputError``
    when it is not a JSON object."""
    from registry.core.anchor_suite import decode_anchor_proof
    from registry.verify.display import summarize

    doc = load_document(credential)
    body, anchors, _ = split_proofs(doc)
    summary = summarize(body)
    anchored = None
    if len(anchors) == 1:
        try:
            anchored = decode_anchor_proof(anchors[0])
        except InputError:
            anchored = None
    subject = doc.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, Mapping) else {}
    a = summary.achievement
    issued = _date(doc.get("validFrom"), subject.get("awardedDate"), doc.get("awardedDate"),
                   doc.get("issuanceDate"), anchored.anchoredAt if anchored else None)
    return Facts(
        credential=credential,
        digest="0x" + document_digest(body).hex(),
        issuer_address=anchored.issuer if anchored else None,
        issuer_name=summary.issuer_name or summary.issuer_id or "Unnamed issuer",
        recipient=summary.recipient or summary.recipient_id or "",
        achievement=(a.name if a else None) or summary.name or "Credential",
        description=_short((a.description if a else None) or summary.description, MAX_DESCRIPTION),
        results=tuple(r for r in (_short(x, 80) for x in summary.results[:3]) if r),
        issued=issued or EPOCH,
        image=_image(achievement),
    )

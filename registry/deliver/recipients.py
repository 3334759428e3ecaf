"""Where a credential's recipient address comes from, in one place.

:func:`recipient_address` is the only function the delivery asks. Today it reads the document:
first the roster row the credential was made from (``roster_rows.recipient_email``, the latest
issued row naming the digest: a roster's email column, even when the document only holds a hashed
identifier), else the document: an Open Badges 3.0 ``credentialSubject.identifier`` entry with
``identityType: "emailAddress"`` and ``hashed: false`` (its ``identityHash`` is then the plain
address), else ``credentialSubject.email``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_ADDRESS = 254  # RFC 5321: a forward path of 256 octets including the angle brackets
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")


def recipient_address(session: Any, digest: bytes, document: Mapping[str, Any]) -> str | None:
    """The email address the credential ``digest`` goes to, or None when there is none.

    ``session`` is a database session of the issuer database: the roster row of ``digest`` comes
    first (:func:`address_in_roster`), then the document (:func:`address_in_document`).
    """
    return address_in_roster(session, digest) or address_in_document(document)


def address_in_roster(session: Any, digest: bytes) -> str | None:
    """The email of the latest issued roster row that made the credential ``digest``, if any.

    ``session`` None (no issuer database at hand) gives None.
    """
    if session is None:
        return None
    from sqlalchemy import select

    from registry.db.models import roster_rows_table as t
    from registry.roster.records import ISSUED

    email = session.execute(
        select(t.c.recipient_email)
        .where(t.c.digest == digest, t.c.status == ISSUED)
        .order_by(t.c.id.desc())
        .limit(1)
    ).scalar()
    return email.strip() if isinstance(email, str) and email.strip() else None


def address_in_document(document: Mapping[str, Any]) -> str | None:
    """The unhashed email identifier of the (first) credential subject, else its ``email``."""
    subject = document.get("credentialSubject")
    if isinstance(subject, list):
        subject = subject[0] if subject else None
    if not isinstance(subject, Mapping):
        return None
    identifiers = subject.get("identifier")
    if isinstance(identifiers, Mapping):
        identifiers = [identifiers]
    if isinstance(identifiers, list):
        for entry in identifiers:
            if (
                isinstance(entry, Mapping)
                and entry.get("identityType") == "emailAddress"
                and entry.get("hashed") is False
                and isinstance(entry.get("identityHash"), str)
            ):
                return str(entry["identityHash"]).strip()
    email = subject.get("email")
    return email.strip() if isinstance(email, str) else None


def address_problem(address: str) -> str | None:
    """Why ``address`` cannot be sent to (None when it can): plain ``local@domain.tld`` ASCII only."""
    if len(address) > MAX_ADDRESS:
        return f"recipient address longer than {MAX_ADDRESS} characters"
    if not _ADDRESS.fullmatch(address):
        shown = address if len(address) <= 80 else address[:77] + "..."
        return f"not a usable email address: {shown!r}"
    return None

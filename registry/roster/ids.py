"""Deterministic, unguessable ids of roster rows.

A roster row's credential ``id`` is ``urn:uuid:`` of the first 16 bytes of
HMAC-SHA256(issuer roster secret, "credential-id" ‖ template digest ‖ row key), with the version 4
and variant bits set: the same row of the same template always gives the same id (so the same
credential, and a rerun issues nothing twice), while nobody without the issuer's secret can
compute it (DESIGN: the id is the credential's entropy against guessed digests). A correction
(``registry reissue``) mixes in the old credential's digest, so the corrected credential has an id
of its own. The secret is 32 random bytes kept in the issuer database (``roster_secret``), made
on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid

from sqlalchemy import select

from registry.db import Database, utcnow
from registry.db.models import roster_secret_table


def issuer_secret(db: Database) -> bytes:
    """The issuer's roster secret, created (once, race-free) on first use."""
    from registry.anchor.intake import _insert_ignore

    t = roster_secret_table
    with db.engine.connect() as conn:
        found = conn.execute(select(t.c.secret).where(t.c.id == 1)).scalar()
    if found is not None:
        return bytes(found)
    with db.begin() as conn:
        conn.execute(_insert_ignore(db, t).values(id=1, secret=os.urandom(32), created_at=utcnow()))
    with db.engine.connect() as conn:
        return bytes(conn.execute(select(t.c.secret).where(t.c.id == 1)).scalar_one())


def _mac(secret: bytes, *parts: bytes) -> bytes:
    return hmac.new(secret, b"\x00".join(parts), hashlib.sha256).digest()


def row_credential_id(secret: bytes, template_digest: bytes, row_key: str, *, replaces: bytes = b"") -> str:
    """The ``urn:uuid:`` id of a row's credential (``replaces``: the digest a correction replaces)."""
    parts = [b"credential-id", template_digest, row_key.encode()]
    if replaces:
        parts += [b"correction-of", replaces]
    return f"urn:uuid:{uuid.UUID(bytes=_mac(secret, *parts)[:16], version=4)}"


def row_salt(secret: bytes, template_digest: bytes, row_key: str) -> str:
    """A per-row secret salt (hex) for an OB 3.0 ``identityHash``."""
    return _mac(secret, b"identity-salt", template_digest, row_key.encode())[:16].hex()


def file_credential_id(secret: bytes, replaces: bytes, content_digest: bytes) -> str:
    """The id a corrected document without one gets (``reissue --with``): the same on a rerun."""
    mac = _mac(secret, b"correction-id", replaces, content_digest)
    return f"urn:uuid:{uuid.UUID(bytes=mac[:16], version=4)}"

"""Issuer database: sqlmodel tables, sessions and migrations applied on open."""

from registry.db.models import Account, Batch, Credential, Revocation, Transaction, utcnow
from registry.db.session import Database, LockBusy, normalize_url, open_database

__all__ = [
    "Account",
    "Batch",
    "Credential",
    "Database",
    "LockBusy",
    "Revocation",
    "Transaction",
    "normalize_url",
    "open_database",
    "utcnow",
]

"""Auditor tooling: check a registry from the chain (and its manifests) alone."""

from registry.audit.cursor import Cursor, default_cursor_path, load_cursor, save_cursor
from registry.audit.engine import Auditor, ManifestSource
from registry.audit.events import ChainEvent, EventReader
from registry.audit.model import ANOMALY_KINDS, Anomaly, AuditReport, BatchRecord, IssuerView

__all__ = [
    "ANOMALY_KINDS",
    "Anomaly",
    "AuditReport",
    "Auditor",
    "BatchRecord",
    "ChainEvent",
    "Cursor",
    "EventReader",
    "IssuerView",
    "ManifestSource",
    "default_cursor_path",
    "load_cursor",
    "save_cursor",
]

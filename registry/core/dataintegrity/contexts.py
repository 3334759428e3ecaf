"""A static JSON-LD document loader over the pinned context files (never fetches).

The files in ``contexts/`` are copied unchanged from their npm packages (see
``contexts/PROVENANCE.md``). A URL the loader does not hold is refused with
``unknown_context``; nothing is ever fetched.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from registry.errors import DataIntegrityError, ErrorCode

CONTEXTS_DIR = Path(__file__).with_name("contexts")

VC2_CONTEXT_URL = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V2_URL = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1_URL = "https://w3id.org/security/multikey/v1"
OB3_CONTEXT_URL = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR2_CONTEXT_URL = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"

PINNED_FILES: dict[str, str] = {
    VC2_CONTEXT_URL: "credentials-v2.json",
    DATA_INTEGRITY_V2_URL: "data-integrity-v2.json",
    MULTIKEY_V1_URL: "multikey-v1.json",
    OB3_CONTEXT_URL: "ob-v3p0-context-3.0.3.json",
    CLR2_CONTEXT_URL: "clr-v2p0-context-2.0.1.json",
}


def _read_pinned() -> dict[str, dict[str, Any]]:
    """Every pinned context, parsed, by URL."""
    out: dict[str, dict[str, Any]] = {}
    for url, name in PINNED_FILES.items():
        out[url] = json.loads((CONTEXTS_DIR / name).read_text(encoding="utf-8"))
    return out


_PINNED: dict[str, dict[str, Any]] = _read_pinned()


class StaticLoader:
    """A pyld document loader that serves only the contexts it holds.

    ``extra`` adds documents by URL (tests add the W3C examples context this way).
    Call it as pyld does: ``loader(url, options)``.
    """

    def __init__(self, extra: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._docs: dict[str, dict[str, Any]] = dict(_PINNED)
        for url, doc in (extra or {}).items():
            self._docs[url] = copy.deepcopy(dict(doc))

    @property
    def urls(self) -> frozenset[str]:
        """The URLs this loader holds."""
        return frozenset(self._docs)

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        """The remote-document record pyld expects, or ``unknown_context``."""
        doc = self._docs.get(url)
        if doc is None:
            raise DataIntegrityError(
                f"JSON-LD context {url!r} is not pinned in this registry (contexts are never fetched)",
                code=ErrorCode.UNKNOWN_CONTEXT, url=url)
        return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(doc),
                "contentType": "application/ld+json"}


DEFAULT_LOADER = StaticLoader()

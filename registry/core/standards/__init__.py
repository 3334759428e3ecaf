"""Strict-mode checks against the official artifacts of the standards (pure; files vendored here).

- :func:`schema_errors`: the official JSON Schemas (1EdTech Open Badges 3.0 AchievementCredential,
  draft 2019-09; W3C VC Data Model 2.0 verifiable credential, draft 2020-12), compiled once with
  ``jsonschema_rs``; every violation as ``(JSON pointer, message)``.
- :func:`undefined_terms` (in :mod:`registry.core.standards.safe_jsonld`): JSON-LD expansion in safe
  mode over the pinned contexts.

Provenance of every vendored file: ``PROVENANCE.md`` beside this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs

__all__ = ["OB3_SCHEMA_FILE", "SCHEMA_IDS", "VC2_SCHEMA_FILE", "SchemaName", "schema_errors"]

STANDARDS_DIR = Path(__file__).parent
OB3_SCHEMA_FILE = "ob_v3p0_achievementcredential_schema.json"
VC2_SCHEMA_FILE = "verifiable-credential-schema.json"
SchemaName = Literal["ob3", "vc2"]
_FILES: dict[str, str] = {"ob3": OB3_SCHEMA_FILE, "vc2": VC2_SCHEMA_FILE}
SCHEMA_IDS: dict[str, str] = {
    "ob3": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json-ld/ob_v3p0_achievementcredential_schema.json",
    "vc2": "https://www.w3.org/2022/credentials/v2/verifiable-credential-schema.json",
}
TITLES: dict[str, str] = {
    "ob3": "the Open Badges 3.0 AchievementCredential JSON Schema",
    "vc2": "the W3C VC 2.0 JSON Schema",
}


@cache
def _validator(name: str) -> Any:
    """The compiled validator of one vendored schema (its ``$schema`` picks the draft)."""
    schema = json.loads((STANDARDS_DIR / _FILES[name]).read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema)


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def schema_errors(name: SchemaName, doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Each violation of the named official schema: ``(JSON pointer, message)``.

    The message names the schema and the failing keyword's location in it
    (``schema /properties/proof/type``) so the rule can be looked up in the official file. A failed
    ``oneOf`` / ``anyOf`` is reported through the branch that got furthest into the document (its
    own problems: a missing ``proofPurpose``, not "valid under none of the schemas").
    """
    validator = _validator(name)
    for top in validator.iter_errors(dict(doc)):
        for err in _leaves(top):
            where = _pointer(err.schema_path)
            yield _pointer(err.instance_path), f"{_short(err.message)} ({TITLES[name]}: schema {where})"


def _leaves(err: Any, depth: int = 0) -> Iterator[Any]:
    branches = [list(b) for b in (getattr(err.kind, "context", None) or []) if b]
    if not branches or depth > 8:
        yield err
        return
    best = max(branches, key=lambda b: max(len(list(e.instance_path)) for e in b))
    for sub in best:
        yield from _leaves(sub, depth + 1)


def _short(message: str, limit: int = 60) -> str:
    """The validator's message with a long leading JSON value (the failing instance) shortened."""
    if message[:1] not in ('{', '[', '"') or len(message) <= 160:
        return message
    try:
        _, end = json.JSONDecoder().raw_decode(message)
    except ValueError:
        return message
    return message[:limit] + "\u2026" + message[end - 1:end] + message[end:]

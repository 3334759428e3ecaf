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
from typing import TYPE_CHECKING, Any, Literal

import jsonschema_rs

if TYPE_CHECKING:
    from registry.core.dataintegrity.contexts import StaticLoader

__all__ = ["OB3_SCHEMA_FILE", "SCHEMA_IDS", "VC2_SCHEMA_FILE", "SchemaName", "schema_errors",
           "strict_problems"]

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


PLACEHOLDER_ID = "urn:uuid:00000000-0000-4000-8000-000000000000"
_NESTED = "/credentialSubject/verifiableCredential"


def strict_problems(doc: Mapping[str, Any], kind: str, *, will_add_id: bool = False,
                    loader: StaticLoader | None = None) -> tuple[str, list[tuple[str, str]]]:
    """``("schema" | "jsonld", problems)``: the first stage of strict mode that finds any (or none).

    Stage one, the official schemas: OB 3.0 + VC 2.0 for ``ob3``; VC 2.0 for ``vc2`` and ``clr2``,
    and for a CLR OB 3.0 + VC 2.0 on each credential inside it (pointers into it). With
    ``will_add_id`` a document without ``id`` is checked with a placeholder one (the caller adds
    it). Stage two, JSON-LD safe-mode expansion of the document. The registry's own anchor proofs
    are left out of both. A structurally valid document of ``kind`` is assumed.
    """
    from registry.core.standards.safe_jsonld import undefined_terms

    body = _without_anchor_proofs(doc)
    checked = {"id": PLACEHOLDER_ID, **body} if will_add_id and "id" not in body else body
    problems: list[tuple[str, str]] = []
    both: tuple[SchemaName, ...] = ("ob3", "vc2")
    for name in both if kind == "ob3" else ("vc2",):
        problems.extend(schema_errors(name, checked))
    if kind == "clr2":
        for i, cred in enumerate(checked["credentialSubject"]["verifiableCredential"]):
            for name in both:
                problems.extend((f"{_NESTED}/{i}{p}", m) for p, m in schema_errors(name, cred))
    if problems:
        return "schema", problems
    return "jsonld", undefined_terms(body, loader)


def _without_anchor_proofs(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document with the registry's own anchor proofs left out (intake drops them anyway)."""
    if "proof" not in doc:
        return doc
    from registry.core.formats import split_proofs

    body, anchors, others = split_proofs(doc)
    if not anchors:
        return doc
    if others:
        body["proof"] = others if isinstance(doc["proof"], list) else others[0]
    return body

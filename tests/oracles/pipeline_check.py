"""Hold credential files the registry wrote to the standards' own tools, in one node call.

For every file: the VC 2.0 JSON Schema; the OB 3.0 AchievementCredential schema when the type
says OB 3.0 (``OpenBadgeCredential`` / ``AchievementCredential``); jsonld.js expansion in safe
mode; and, when it carries an ``eddsa-rdfc-2022`` proof, @digitalbazaar/vc verification with
every such proof verified (the library alone accepts a set when any one verifies). A CLR 2.0
``ClrCredential``'s inner credentials are checked the same way. Every failure of every file is
collected into one assertion message.

Use from any test: ``from oracles.pipeline_check import assert_standard_credentials``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oracles.oracle import OracleRun, registry_contexts, run_items

OB3_TYPES = frozenset({"OpenBadgeCredential", "AchievementCredential"})
EDDSA = "eddsa-rdfc-2022"
ANCHOR = "registry-anchor-2026"


@dataclass
class Target:
    """One credential to check: its label (file, or file#inner), document and checks."""

    label: str
    document: dict[str, Any]
    checks: list[str]
    signed: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class StandardsReport:
    """What was checked: per label, the checks run and the oracle's answers; the node call."""

    checked: dict[str, list[str]]
    results: dict[str, dict[str, Any]]
    run: OracleRun | None


def _types(doc: Mapping[str, Any]) -> list[str]:
    t = doc.get("type", [])
    return [t] if isinstance(t, str) else [x for x in t if isinstance(x, str)] if isinstance(t, list) else []


def _proofs(doc: Mapping[str, Any]) -> list[Any]:
    p = doc.get("proof")
    return [] if p is None else p if isinstance(p, list) else [p]


def _eddsa_count(doc: Mapping[str, Any]) -> int:
    return sum(1 for p in _proofs(doc) if isinstance(p, Mapping) and p.get("cryptosuite") == EDDSA)


def _target(label: str, doc: dict[str, Any], *, require_signature: bool,
            require_anchor: bool) -> Target:
    checks = ["vc2_schema", "expand"]
    if OB3_TYPES & set(_types(doc)):
        checks.insert(0, "ob3_schema")
    signed = _eddsa_count(doc) > 0
    if signed:
        checks.append("verify")
    t = Target(label, doc, checks, signed)
    if "proof" in doc and not isinstance(doc["proof"], list):
        t.problems.append("proof is not an array (the registry always writes an array)")
    if require_signature and not signed:
        t.problems.append(f"no {EDDSA} proof (a signature was required)")
    anchors = [p for p in _proofs(doc) if isinstance(p, Mapping) and p.get("cryptosuite") == ANCHOR]
    if require_anchor and len(anchors) != 1:
        t.problems.append(f"{len(anchors)} {ANCHOR} proofs (exactly one expected)")
    return t


def _inner(label: str, doc: Mapping[str, Any], require_signature: bool) -> list[Target]:
    """The credentials inside a ClrCredential (``credentialSubject.verifiableCredential``)."""
    if "ClrCredential" not in _types(doc):
        return []
    subject = doc.get("credentialSubject")
    inner = subject.get("verifiableCredential", []) if isinstance(subject, Mapping) else []
    inner = inner if isinstance(inner, list) else [inner]
    return [_target(f"{label}#verifiableCredential[{i}]", dict(c), require_signature=require_signature,
                    require_anchor=False) for i, c in enumerate(inner) if isinstance(c, Mapping)]


def _load(paths: Iterable[str | Path], require_signature: bool, require_anchor: bool) -> list[Target]:
    targets: list[Target] = []
    for path in paths:
        label = str(path)
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            targets.append(Target(label, {}, [], False, [f"cannot read it as JSON: {exc}"]))
            continue
        if not isinstance(doc, dict):
            targets.append(Target(label, {}, [], False, ["not a JSON object"]))
            continue
        targets.append(_target(label, doc, require_signature=require_signature,
                               require_anchor=require_anchor))
        targets.extend(_inner(label, doc, require_signature))
    return targets


def _expand_problem(expand: Mapping[str, Any]) -> str:
    err = expand.get("error") or {}
    event = (err.get("details") or {}).get("event") or {}
    prop = (event.get("details") or {}).get("property")
    where = f" ({event.get('code')}: {prop})" if prop else ""
    cause = (((err.get("details") or {}).get("cause")) or {}).get("message")
    because = f" [{cause}]" if cause else ""
    return f"jsonld.js safe mode: {err.get('name')}: {err.get('message')}{where}{because}"


def _problems(t: Target, result: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key, name in (("ob3_schema", "OB 3.0 schema"), ("vc2_schema", "VC 2.0 schema")):
        if key in result and not result[key]["valid"]:
            out.append(f"{name}: " + "; ".join(result[key]["errors"]))
    if "expand" in result and not result["expand"]["ok"]:
        out.append(_expand_problem(result["expand"]))
    if "verify" in result:
        v = result["verify"]
        if not v["verified"]:
            out.append("@digitalbazaar/vc: not verified: " + "; ".join(v["errors"]))
        bad = [r for r in v["results"] if not r["verified"]]
        checked = [r for r in v["results"] if r["cryptosuite"] == EDDSA]
        if v["verified"] and bad:
            out.append(f"@digitalbazaar/vc: {len(bad)} of the proofs did not verify: "
                       + "; ".join(" ".join(r["error"] or []) for r in bad))
        expected = _eddsa_count(t.document)
        if len(checked) != expected:
            out.append(f"@digitalbazaar/vc checked {len(checked)} of {expected} {EDDSA} proofs")
    return out


def check_standard_credentials(paths: Iterable[str | Path], *, now: str | None = None,
                               require_signature: bool = False, require_anchor: bool = True,
                               contexts: Mapping[str, Any] | None = None,
                               documents: Mapping[str, Any] | None = None,
                               schemas: Mapping[str, str] | None = None) -> tuple[StandardsReport, list[str]]:
    """Run the standards checks on credential files; the report and every failure, as lines.

    ``contexts`` default to the registry's pinned ones, used only for URLs no npm package
    serves; ``now`` is the verification time (default: the clock); ``documents`` feed the
    oracle's loader (did:web DID documents, status list credentials).
    """
    targets = _load(paths, require_signature, require_anchor)
    runnable = [t for t in targets if t.checks]
    run = None
    if runnable:
        verify = {"now": now} if now else {}
        items = [{"document": t.document, "checks": t.checks, "verify": verify} for t in runnable]
        run = run_items(items, contexts=registry_contexts() if contexts is None else contexts,
                        documents=documents, schemas=schemas)
        for t, result in zip(runnable, run.results, strict=True):
            t.problems.extend(_problems(t, result))
    failures = [f"{t.label}: {p}" for t in targets for p in t.problems]
    if run is not None and run.context_mismatches:
        failures.append("pinned contexts differ from the npm packages': " + ", ".join(run.context_mismatches))
    results = dict(zip((t.label for t in runnable), run.results if run else [], strict=True))
    return StandardsReport({t.label: t.checks for t in targets}, results, run), failures


def assert_standard_credentials(paths: Iterable[str | Path], **options: Any) -> StandardsReport:
    """Assert every file passes :func:`check_standard_credentials`; one message lists all failures."""
    listed = [Path(p) for p in paths]
    assert listed, "no credential files to check"
    report, failures = check_standard_credentials(listed, **options)
    assert not failures, (f"{len(failures)} standards failure(s) in {len(listed)} credential file(s):\n  "
                          + "\n  ".join(failures))
    return report

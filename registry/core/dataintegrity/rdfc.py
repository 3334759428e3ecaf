"""RDF Dataset Canonicalization (RDFC-1.0, = URDNA2015) of JSON-LD documents via pyld.

Safe mode: pyld 3.3 has no ``safe`` option, so it is made here from pyld's own hooks: a term that
expands to nothing (an undefined property, dropped by expansion) and a relative IRI that RDF
conversion would silently skip (an undefined ``type`` value, a relative ``id``) raise
``jsonld_error`` instead of leaving data unsigned. Contexts come only from a :class:`StaticLoader`.

What jsonld.js computes (the processor of Data Integrity verifiers, ``@digitalbazaar/vc``):
RDFC-1.0's canonical N-Quads (pyld 3.3 left ``\\b``, ``\\f``, other C0 controls and DEL raw),
``rdfDirection: i18n-datatype`` (as the eddsa-rdfc-2022 cryptosuite converts), rdf-canonize's guard
against poison graphs, and safe mode also refuses the values jsonld.js reads otherwise (malformed
language tags, integers JavaScript rounds, doubles it writes as ``0``) and IRIs with characters no
IRI may hold (those pieces are in :mod:`~registry.core.dataintegrity.rdfc_form`).
tests/core/test_core_rdfc_fast.py runs a corpus through jsonld.js to hold this.

Speed: pyld caches a processed context by the identity of the active context it was applied to,
but a type-scoped context (``propagate: false``: every OB 3.0 and VC 2.0 type has one) is applied
to a fresh clone each time, so pyld re-processed dozens of term definitions per document (about
two thirds of its time). Each loader's resolver here also memoizes context processing itself,
keyed by the (immutable) active context's id, the local context's exact JSON and the flags; the
output is pyld's, unchanged. :func:`expand` gives the same memoized processing to a caller that
needs the expanded form (a safe-mode check).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cachetools import LRUCache
from frozendict import frozendict
from pyld import jsonld
from pyld.context_resolver import ContextResolver

from registry.core.dataintegrity.contexts import DEFAULT_LOADER, StaticLoader
from registry.core.dataintegrity.rdfc_form import (
    Rdfc10,
    check_iri,
    check_value,
    pyld_object_to_rdf,
)
from registry.errors import DataIntegrityError, ErrorCode, RegistryError


class _Resolver(ContextResolver):  # type: ignore[misc]
    """pyld's context resolver for one loader, with bounded caches and a processed-context memo.

    ``lock`` serializes the pyld runs that share these caches (cachetools caches are not
    thread-safe; under the GIL a CPU-bound canonicalization gains nothing from threads anyway).
    """

    def __init__(self, loader: StaticLoader) -> None:
        super().__init__(LRUCache(maxsize=256), loader)
        # pyld's own per_op_cache is a dict that would grow forever across calls
        self.per_op_cache: LRUCache[str, Any] = LRUCache(maxsize=1024)
        self.processed: LRUCache[tuple[Any, ...], Any] = LRUCache(maxsize=1024)
        self.outputs: LRUCache[str, str] = LRUCache(maxsize=512)
        self.keys: LRUCache[int, tuple[Any, str]] = LRUCache(maxsize=256)
        self.lock = threading.Lock()

    def context_key(self, local_ctx: Any) -> str | None:
        """:func:`_context_key`, remembered by identity for the context objects that recur.

        Scoped contexts live in the term definitions of cached active contexts and come back as
        the same objects; pyld only ever hands over its own deep copy of a document, which no one
        changes. An entry holds its object, so the ``id`` cannot be reused while it is cached.
        """
        if isinstance(local_ctx, str):
            return _context_key(local_ctx)
        entry = self.keys.get(id(local_ctx))
        if entry is not None and entry[0] is local_ctx:
            return entry[1]
        key = _context_key(local_ctx)
        if key is not None:
            self.keys[id(local_ctx)] = (local_ctx, key)
        return key

    def resolve(self, active_ctx: Any, context: Any, base: Any, cycles: Any = None) -> Any:
        """pyld's resolution, except that a context string is never taken for a context object.

        pyld caches a context object under its JSON text and a URL under the URL, in one map: with
        a resolver kept across documents, the string ``'{"ex":…}'`` would be served the object seen
        earlier. Such a string goes to the loader, as it would with a fresh resolver.
        """
        inner = context.get("@context") if isinstance(context, Mapping) else context
        for ctx in inner if isinstance(inner, list) else [inner]:
            if isinstance(ctx, str) and ctx.startswith("{"):
                self.document_loader(ctx, {})
        return super().resolve(active_ctx, context, base, cycles)


_RESOLVERS: dict[int, tuple[StaticLoader, _Resolver]] = {}
_RESOLVERS_LOCK = threading.Lock()


def _resolver(loader: StaticLoader) -> _Resolver:
    """One context resolver (and resolved-context cache) per loader, never pyld's global one."""
    entry = _RESOLVERS.get(id(loader))
    if entry is None or entry[0] is not loader:
        with _RESOLVERS_LOCK:
            entry = _RESOLVERS.get(id(loader))
            if entry is None or entry[0] is not loader:
                entry = (loader, _Resolver(loader))
                _RESOLVERS[id(loader)] = entry
    return entry[1]


def _context_key(local_ctx: Any) -> str | None:
    """The exact JSON of a context or document (key order kept), or None when it has none."""
    try:
        return json.dumps(local_ctx, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


def _dropped(prop: str | None) -> None:
    """pyld's on_property_dropped hook: safe mode refuses undefined terms."""
    raise DataIntegrityError(f"JSON-LD safe mode: term {prop!r} is not defined by any context",
                             code=ErrorCode.JSONLD_ERROR, term=prop)


class _MemoProcessor(jsonld.JsonLdProcessor):  # type: ignore[misc]
    """A pyld processor whose context processing is memoized in its loader's :class:`_Resolver`."""

    def _process_context(self, active_ctx: Any, local_ctx: Any, options: Any,
                         override_protected: bool = False, propagate: bool = True,
                         validate_scoped: bool = True, cycles: Any = None) -> Any:
        """pyld's context processing, memoized for a frozen active context (see the module doc).

        Calls with ``cycles`` (pyld's pre-validation of scoped contexts against a context still
        being built) and calls on a mutable active context are never memoized.
        """
        resolver = options.get("contextResolver")
        key = None
        if cycles is None and isinstance(resolver, _Resolver) and isinstance(active_ctx, frozendict) \
                and "_uuid" in active_ctx:
            ctx_key = resolver.context_key(local_ctx)
            if ctx_key is not None:
                key = (active_ctx["_uuid"], ctx_key, override_protected, propagate, validate_scoped,
                       options.get("base"), options.get("processingMode"))
                hit = resolver.processed.get(key)
                if hit is not None:
                    return hit
        out = super()._process_context(active_ctx, local_ctx, options, override_protected,
                                       propagate, validate_scoped, cycles)
        if key is not None and isinstance(out, frozendict) and "_uuid" in out:
            resolver.processed[key] = out
        return out


class _SafeProcessor(_MemoProcessor):
    """A pyld processor that refuses what safe mode refuses instead of dropping it."""

    def __init__(self) -> None:
        super().__init__(on_property_dropped=_dropped)

    def _expand(self, active_ctx: Any, active_property: Any, element: Any, options: Any,
                *args: Any, **kwargs: Any) -> Any:
        """pyld's expansion; what it drops without a word (a free-floating value or node, an
        empty object, an object with only ``@id``, ``@value`` or ``@language``) is refused, as
        jsonld.js's safe mode refuses it: it would be signed by nothing."""
        out = super()._expand(active_ctx, active_property, element, options, *args, **kwargs)
        if isinstance(out, dict) and isinstance(element, dict) \
                and _free_floating(active_ctx, active_property) \
                and len(out) <= self._empty_graph_properties(active_ctx, element, options):
            out = None  # jsonld.js drops an object left empty at the top or in a graph
        if out is None and element is not None:
            shown = json.dumps(element, ensure_ascii=False, default=str)
            raise DataIntegrityError(
                f"JSON-LD safe mode: {shown[:80]} under {active_property!r} would be dropped (it"
                " becomes no RDF)", code=ErrorCode.JSONLD_ERROR, term=active_property)
        return out

    def _empty_graph_properties(self, active_ctx: Any, element: dict[str, Any], options: Any) -> int:
        """Properties jsonld.js leaves out of an expanded object: a graph container holding nothing
        (pyld keeps them as ``[]``, which makes no RDF either way)."""
        empty = [k for k, v in element.items() if isinstance(v, list) and _holds_nothing(v)]
        if not empty:
            return 0
        if "@context" in element:
            active_ctx = self._process_context(active_ctx, element["@context"], options)
        return sum(1 for k in empty if _graph_container(active_ctx, k))

    def _create_node_map(self, input_: Any, graph_map: Any, active_graph: Any, issuer: Any,
                         active_subject: Any = None, active_property: Any = None, list_: Any = None) -> Any:
        """pyld's node map; a value, a list, an empty object or an object with only ``@id``
        straight in a ``@graph`` (no RDF; refused by jsonld.js's safe mode) is refused."""
        if list_ is None and active_subject is None and isinstance(input_, dict) \
                and ("@value" in input_ or "@list" in input_ or set(input_) <= {"@id"}):
            shown = json.dumps(input_, ensure_ascii=False, default=str)
            raise DataIntegrityError(f"JSON-LD safe mode: {shown[:80]} stands alone in a graph and would"
                                     " be dropped (it becomes no RDF)", code=ErrorCode.JSONLD_ERROR)
        return super()._create_node_map(input_, graph_map, active_graph, issuer, active_subject,
                                        active_property, list_)

    def _graph_to_rdf(self, graph: dict[str, Any], issuer: Any, options: Any) -> Any:
        for id_, node in graph.items():
            check_iri(id_, "node id")
            for prop, items in node.items():
                if prop == "@type":
                    for t in items:
                        check_iri(t, "type")
                elif not prop.startswith("@"):
                    check_iri(prop, "property")
        return super()._graph_to_rdf(graph, issuer, options)

    def _object_to_rdf(self, item: Any, issuer: Any, triples: Any, options: Any) -> Any:
        if isinstance(item, dict) and "@value" in item:
            check_value(item)
        out = pyld_object_to_rdf(self, item, issuer, triples, options)
        if out is None:
            check_iri(item.get("@id", "") if isinstance(item, dict) else str(item), "object IRI")
        elif out.get("type") == "IRI":
            check_iri(out["value"], "object IRI")
        elif out.get("type") == "literal":
            check_iri(out["datatype"], "datatype")
        return out


def _free_floating(active_ctx: Any, active_property: Any) -> bool:
    """Where jsonld.js drops a free-floating object: at the top, under ``@graph`` or a graph container."""
    if active_property is None or active_property == "@graph":
        return True
    container = jsonld.JsonLdProcessor.get_context_value(active_ctx, active_property, "@container")
    return "@graph" in (container or [])


def _holds_nothing(value: Any) -> bool:
    """``null``, or arrays holding only that: what expansion drops without a trace."""
    return value is None or (isinstance(value, list) and all(_holds_nothing(v) for v in value))


def _graph_container(active_ctx: Any, term: Any) -> bool:
    container = jsonld.JsonLdProcessor.get_context_value(active_ctx, term, "@container") or []
    return "@graph" in container and "@id" not in container and "@index" not in container


def _registry_cause(exc: BaseException) -> RegistryError | None:
    """The registry error inside a chain of pyld errors, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RegistryError):
            return seen
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "cause", None)
    return None


def canonize(document: Mapping[str, Any], loader: StaticLoader | None = None, *,
             memo: bool = False) -> str:
    """The RDFC-1.0 canonical N-Quads of a JSON-LD document, in safe mode, pinned contexts only.

    ``memo=True`` keeps the output by the document's exact JSON (for small documents that recur,
    such as a proof configuration shared by every credential signed in the same second).
    """
    loader = loader or DEFAULT_LOADER
    resolver = _resolver(loader)
    if not memo:
        return _canonize(document, loader, resolver)
    key = _context_key(dict(document))
    if key is None:
        return _canonize(document, loader, resolver)
    with resolver.lock:
        hit = resolver.outputs.get(key)
    if hit is None:
        hit = _canonize(document, loader, resolver)
        with resolver.lock:
            resolver.outputs[key] = hit
    return hit


def _canonize(document: Mapping[str, Any], loader: StaticLoader, resolver: _Resolver) -> str:
    """pyld's URDNA2015 N-Quads of ``document`` with this loader's resolver, errors mapped."""
    options = {"documentLoader": loader, "contextResolver": resolver, "base": None,
               "extractAllScripts": True, "processingMode": "json-ld-1.1", "produceGeneralizedRdf": False,
               "rdfDirection": "i18n-datatype"}  # as the eddsa-rdfc-2022 cryptosuite of jsonld.js
    try:
        with resolver.lock:  # pyld's normalize: to RDF, then URDNA2015, here with RDFC-1.0's N-Quads
            dataset = _SafeProcessor().to_rdf(dict(document), options)
        out = Rdfc10().main(dataset, {"format": "application/n-quads"})
    except RegistryError:
        raise
    except Exception as exc:  # pyld wraps loader and syntax errors in JsonLdError
        inner = _registry_cause(exc)
        if inner is not None:
            raise inner from exc
        raise DataIntegrityError(f"JSON-LD processing failed: {pyld_message(exc)}",
                                 code=ErrorCode.JSONLD_ERROR) from exc
    if not isinstance(out, str):
        raise DataIntegrityError("canonicalization produced no N-Quads", code=ErrorCode.JSONLD_ERROR)
    return out


def expand(document: Mapping[str, Any], loader: StaticLoader | None = None, *,
           on_property_dropped: Callable[[str | None], Any] | None = None) -> list[Any]:
    """pyld's JSON-LD expansion of ``document`` with the memoized context processing, pinned
    contexts only (for a safe-mode check that needs the expanded form itself).

    ``on_property_dropped`` is pyld's hook (raise from it to refuse undefined terms). pyld's
    errors are not mapped: the caller sees ``JsonLdError`` as from ``jsonld.expand``.
    """
    loader = loader or DEFAULT_LOADER
    resolver = _resolver(loader)
    options = {"documentLoader": loader, "contextResolver": resolver, "base": None}
    with resolver.lock:
        processor = _MemoProcessor(on_property_dropped=on_property_dropped or jsonld.noop)
        out = processor.expand(dict(document), options)
    return list(out)


def pyld_message(exc: BaseException) -> str:
    """The innermost message of a pyld error chain."""
    msgs: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(msgs) < 8:
        msgs.append(str(getattr(seen, "message", None) or seen).splitlines()[0])
        seen = seen.__cause__ or getattr(seen, "cause", None)
    return "; ".join(msgs)

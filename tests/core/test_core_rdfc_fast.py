"""The fast canonicalization (memoized context processing) against plain pyld and jsonld.js.

Three references, the first two without any of ``rdfc``'s caches and with a fresh pyld context
resolver per call: plain ``jsonld.normalize`` (what pyld computes, no safe mode) for every
document the fast path accepts whose literals hold no control character pyld writes differently
from RDFC-1.0 (see ``rdfc_form.escape_literal``); pyld's own ``_process_context`` under the same
safe-mode hooks for the documents safe mode refuses (same error code and message); and
jsonld.js ``canonize`` in safe mode (node, the npm package Data Integrity verifiers run) for
every document: byte-identical N-Quads, and whatever jsonld.js refuses is refused here too. The
corpus: the W3C vectors, the sample badges, hand-made edge documents and hypothesis-generated
OB 3.0-like credentials.
"""

from __future__ import annotations

import atexit
import copy
import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from cachetools import LRUCache
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyld import jsonld
from pyld.context_resolver import ContextResolver

from registry.core.credential import OB3_CONTEXT, VC2_CONTEXT
from registry.core.dataintegrity import didkey, rdfc, rdfc_form
from registry.core.dataintegrity import eddsa_rdfc_2022 as eddsa
from registry.core.dataintegrity.contexts import CONTEXTS_DIR, DEFAULT_LOADER, PINNED_FILES, StaticLoader
from registry.core.dataintegrity.rdfc import canonize
from registry.core.samples import sample_badge
from registry.errors import DataIntegrityError, RegistryError

VECTORS = Path(__file__).with_name("vectors") / "vc-di-eddsa"
EXAMPLES_URL = "https://www.w3.org/ns/credentials/examples/v2"
LOADER = StaticLoader({EXAMPLES_URL: json.loads((VECTORS / "credentials-examples-v2.json").read_text())})
DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
XSD = "http://www.w3.org/2001/XMLSchema#"
ROOT = Path(__file__).resolve().parents[2]

# jsonld.js (node_modules/jsonld), one process for the module: a JSON line in, a JSON line out.
_JSONLD_JS = r"""
const fs = require("fs");
const jsonld = require("jsonld");
const files = JSON.parse(process.argv[1]);
const docs = {};
for (const [url, path] of Object.entries(files)) docs[url] = JSON.parse(fs.readFileSync(path, "utf8"));
const documentLoader = async (url) => {
  if (!(url in docs)) throw new Error("unknown context " + url);
  return {contextUrl: null, documentUrl: url, document: docs[url]};
};
const rl = require("readline").createInterface({input: process.stdin});
rl.on("line", async (line) => {
  let out;
  try {
    // the options of @digitalbazaar/eddsa-rdfc-2022-cryptosuite's canonize
    out = {ok: await jsonld.canonize(JSON.parse(line), {algorithm: "RDFC-1.0", format: "application/n-quads",
      documentLoader, safe: true, base: null, rdfDirection: "i18n-datatype"})};
  } catch (e) {
    const event = e && e.details && e.details.event;
    out = {err: String((e && e.message) || e) + (event ? " (" + event.code + ")" : "")};
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
"""
_NODE: list[subprocess.Popen[str]] = []


def _jsonld_js(doc: dict[str, Any]) -> tuple[str | None, str | None]:
    """(N-Quads, None) from jsonld.js safe-mode ``canonize``, or (None, its error message)."""
    if not _NODE or _NODE[0].poll() is not None:
        files = {url: str(CONTEXTS_DIR / name) for url, name in PINNED_FILES.items()}
        files[EXAMPLES_URL] = str(VECTORS / "credentials-examples-v2.json")
        proc = subprocess.Popen(["node", "-e", _JSONLD_JS, json.dumps(files)], cwd=ROOT, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, encoding="utf-8")
        _NODE[:] = [proc]
        atexit.register(lambda: (proc.stdin.close() if proc.stdin else None, proc.wait(timeout=5)))
    proc = _NODE[0]
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(doc) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("the jsonld.js oracle (node) exited")
    answer = json.loads(line)
    return answer.get("ok"), answer.get("err")


# Characters pyld 3.3 writes raw in a literal and RDFC-1.0 escapes (\b, \f, other C0, DEL).
_ESCAPED_DIFFERENTLY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _leaves(value: Any) -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _plain_pyld_agrees(doc: dict[str, Any]) -> bool:
    """No literal pyld 3.3 escapes differently, no double it rounds differently, no ``@direction``
    (plain pyld drops it)."""
    for leaf in _leaves(doc):
        if isinstance(leaf, str) and (_ESCAPED_DIFFERENTLY.search(leaf) or leaf == "@direction"):
            return False
        if isinstance(leaf, float) and rdfc_form.js_double(leaf) != jsonld._canonicalize_double(leaf):
            return False
    return True


_GUARD = "Hash N-Degree Quads runs"


def _options(loader: StaticLoader) -> dict[str, Any]:
    return {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader,
            "contextResolver": ContextResolver(LRUCache(maxsize=256), loader), "base": None}


class _ReferenceSafe(rdfc._SafeProcessor):
    """Today's safe mode with pyld's own (unmemoized) context processing."""

    _process_context = jsonld.JsonLdProcessor._process_context


def _plain(doc: dict[str, Any], loader: StaticLoader) -> str:
    """Plain pyld, as canonize was before: no safe mode, no memo, a fresh resolver."""
    out = jsonld.normalize(copy.deepcopy(doc), _options(loader))
    assert isinstance(out, str)
    return out


def _reference_error(doc: dict[str, Any], loader: StaticLoader) -> tuple[str, str] | None:
    """The (code, message) the unmemoized safe processor raises, or None if it accepts ``doc``."""
    try:
        _ReferenceSafe().normalize(copy.deepcopy(doc), _options(loader))
    except RegistryError as exc:
        return str(exc.code), exc.message
    except jsonld.JsonLdError as exc:
        inner = rdfc._registry_cause(exc)
        if inner is not None:
            return str(inner.code), inner.message
        return "jsonld_error", "JSON-LD processing failed"
    return None


def _fast(doc: dict[str, Any], loader: StaticLoader) -> tuple[str | None, tuple[str, str] | None]:
    before = copy.deepcopy(doc)
    try:
        out = canonize(doc, loader)
    except DataIntegrityError as exc:
        assert doc == before
        return None, (str(exc.code), exc.message)
    assert doc == before  # never changes its input
    return out, None


def assert_same(doc: dict[str, Any], loader: StaticLoader = DEFAULT_LOADER, *,
                oracle: bool = True) -> str | None:
    """The fast path agrees with the references on ``doc``; its N-Quads, or None if refused."""
    out, err = _fast(doc, loader)
    ref_err = _reference_error(doc, loader)
    js_out, js_err = _jsonld_js(doc) if oracle else (out, None)
    if err is not None and _GUARD in err[1]:  # pyld alone has no guard against poison graphs
        assert js_err is not None and "Maximum deep iterations" in js_err, js_err
        return None
    if err is not None:
        assert ref_err is not None, f"fast path refused what the reference accepts: {err}"
        if ref_err[1] != "JSON-LD processing failed":
            assert err == ref_err
        else:
            assert err[0] == ref_err[0]
        return None
    assert ref_err is None, f"fast path accepted what the reference refuses: {ref_err}"
    assert js_err is None, f"accepted here, refused by jsonld.js: {js_err}"
    assert out == js_out  # byte for byte what jsonld.js (rdf-canonize) computes
    if _plain_pyld_agrees(doc):
        assert out == _plain(doc, loader)
    assert canonize(doc, loader) == out  # and again, from the warm caches
    assert rdfc.expand(doc, loader) == jsonld.expand(copy.deepcopy(doc), _options(loader))
    return out


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# -- the W3C vectors ---------------------------------------------------------------------------

def test_w3c_vectors_match_plain_pyld_and_the_published_canonical_forms() -> None:
    suite = VECTORS / "eddsa-rdfc-2022"
    unsigned = _json(VECTORS / "unsigned.json")
    assert assert_same(unsigned, LOADER) == (suite / "canonDocDataInt.txt").read_text(encoding="utf-8")
    config = _json(suite / "proofConfigDataInt.json")
    assert assert_same(config, LOADER) == (suite / "proofCanonDataInt.txt").read_text(encoding="utf-8")
    signed = _json(suite / "signedDataInt.json")
    assert assert_same(signed, LOADER)  # the proof as a named graph (@graph container)
    assert assert_same({**signed, "proof": [signed["proof"], {**signed["proof"], "created": CREATED2}]},
                       LOADER)


CREATED2 = "2024-05-01T10:00:00Z"


# -- the sample badges -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 7])
def test_sample_badges_match_plain_pyld(seed: int) -> None:
    for i in range(25):
        issuer = DID if i % 2 else "https://university.example.edu/issuers/1"
        assert assert_same(sample_badge(i, issuer_id=issuer, issuer_name="Example University", seed=seed))


def test_signed_sample_badge_and_its_proof_configuration_match_plain_pyld() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    vm = didkey.verification_method_id(key.public_key().public_bytes_raw())
    doc = sample_badge(3, issuer_id=vm.split("#")[0], issuer_name="Example University")
    proof = eddsa.create_proof(doc, key, vm, CREATED2)
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = doc["@context"]
    assert canonize(config, memo=True) == _plain(config, DEFAULT_LOADER)
    assert assert_same({**doc, "proof": [proof]})
    assert eddsa.verify_proof({**doc, "proof": [proof]}).verified


# -- edge documents ----------------------------------------------------------------------------

def _badge(**changes: Any) -> dict[str, Any]:
    doc = sample_badge(11, issuer_id=DID, issuer_name="Example University")
    doc.update(changes)
    return doc


def _subject(**changes: Any) -> dict[str, Any]:
    subject = dict(_badge()["credentialSubject"])
    subject.update(changes)
    return subject


EDGES: dict[str, dict[str, Any]] = {
    "no ids, identical results (N-degree hashing)": _badge(id=None, credentialSubject=_subject(
        id=None, result=[{"type": ["Result"], "value": "A"}, {"type": ["Result"], "value": "A"},
                         {"type": ["Result"], "value": "B"}])),
    "several subjects": _badge(credentialSubject=[_subject(), _subject(id="urn:uuid:2", name="Other"),
                                                  _subject(id=None)]),
    "language value objects": _badge(
        name=[{"@value": "Diplôme", "@language": "fr"}, {"@value": "Diploma", "@language": "en"}],
        description={"@value": "شهادة", "@language": "ar"}),
    "escapes and non-ASCII": _badge(description='tab\t "quote" back\\slash\nnewline \u2028 \U0001F393'),
    "control characters": _badge(description="bs\b ff\f nul\x00 us\x1f del\x7f vt\x0b cr\r",
                                 name="\x01"),
    "direction value object": _badge(description={"@value": "شهادة", "@language": "ar",
                                                  "@direction": "rtl"}),
    "IRI with a brace": _badge(id="https://example.edu/credentials/{1}"),
    "malformed language tag": _badge(name={"@value": "Diploma", "@language": "en US"}),
    "tiny double jsonld.js writes as 0": _badge(credentialSubject=_subject(creditsEarned=1e-7)),
    "tiny double with two digits": _badge(credentialSubject=_subject(creditsEarned=1.5e-7)),
    "integer past 2**53": _badge(credentialSubject=_subject(creditsEarned=2**53 + 1)),
    "integer past 2**53 that is a double": _badge(credentialSubject=_subject(creditsEarned=2**60)),
    "infinite double": _badge(credentialSubject=_subject(creditsEarned=float("inf"))),
    "double on a rounding tie": _badge(credentialSubject=_subject(creditsEarned=2.0**-24)),
    "interchangeable blank nodes past the guard": _badge(id=None, credentialSubject=[
        {"type": ["AchievementSubject"], "result": [{"type": ["Result"], "value": "A"}] * 2}] * 2),
    "IRI with a byte-order mark": _badge(id="https://example.edu/credentials/a\ufeffb"),
    "numbers and booleans": _badge(credentialSubject=_subject(
        creditsEarned=3, identifier=[{"type": "IdentityObject", "hashed": True,
                                      "identityHash": "sha256$abc", "identityType": "emailAddress",
                                      "salt": "pepper"},
                                     {"type": "IdentityObject", "hashed": False,
                                      "identityHash": "x", "identityType": "name"}])),
    "float edge values": _badge(credentialSubject=_subject(creditsEarned=1e21)),
    "allowedValue list and rubric": _badge(credentialSubject=_subject(achievement={
        **_subject()["achievement"],
        "resultDescription": [{"id": "urn:uuid:rd1", "type": ["ResultDescription"], "name": "Grade",
                               "resultType": "LetterGrade", "allowedValue": ["C", "B", "A", "B"],
                               "rubricCriterionLevel": [{"id": "urn:uuid:l1", "name": "Pass",
                                                         "type": ["RubricCriterionLevel"]}]}],
        "alignment": [{"type": ["Alignment"], "targetName": "ESCO", "targetUrl": "https://esco.example/1"}],
        "creditsAvailable": 4.5})),
    "json literal (JsonSchema)": _badge(credentialSchema=[{
        "id": "https://schemas.example/ob.json", "type": "JsonSchema",
        "jsonSchema": {"z": [3, 1.5, None, True], "a": {"é": "x", "b": "\u0000"}}}]),
    "status list entry": _badge(credentialStatus={
        "id": "https://status.example/1#94567", "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": "94567",
        "statusListCredential": "https://status.example/1", "statusSize": 1}),
    "inline context with its own terms": {
        **_badge(), "@context": [VC2_CONTEXT, OB3_CONTEXT,
                                 {"ex": "https://example.com/ns#", "exTerm": "ex:term",
                                  "exTyped": {"@id": "ex:typed", "@type": f"{XSD}integer"}}],
        "exTerm": "value", "exTyped": 12},
    "inline scoped context": {
        **_badge(), "@context": [VC2_CONTEXT, OB3_CONTEXT,
                                 {"Extra": {"@id": "https://example.com/ns#Extra",
                                            "@context": {"inner": "https://example.com/ns#inner"}},
                                  "extra": "https://example.com/ns#extra"}],
        "extra": {"type": "Extra", "inner": "in"}},
    "endorsement": _badge(credentialSubject=_subject(achievement={
        **_subject()["achievement"],
        "endorsement": [{"@context": [VC2_CONTEXT, OB3_CONTEXT], "id": "urn:uuid:e1",
                         "type": ["VerifiableCredential", "EndorsementCredential"],
                         "issuer": {"id": "https://endorser.example", "type": ["Profile"]},
                         "validFrom": "2026-01-01T00:00:00Z",
                         "credentialSubject": {"id": "urn:uuid:ach", "type": ["EndorsementSubject"],
                                               "endorsementComment": "Good"}}]})),
    "issuer as a string": _badge(issuer=DID),
    "evidence and image": _badge(evidence=[{"id": "https://evidence.example/1", "type": ["Evidence"],
                                            "name": "Portfolio", "narrative": "See the portfolio."}],
                                 credentialSubject=_subject(image={"id": "https://img.example/a.png",
                                                                   "type": "Image"})),
    # refused by safe mode, with the same code and message as the reference
    "undefined top-level term": _badge(undefinedTerm=1),
    "undefined nested term": _badge(credentialSubject=_subject(nickname="x")),
    "undefined term under a type-scoped context": _badge(credentialSubject=_subject(
        result=[{"type": ["Result"], "value": "A", "grade": "B"}])),
    "undefined type": _badge(type=["VerifiableCredential", "OpenBadgeCredential", "UndefinedType"]),
    "undefined nested type": _badge(credentialSubject=_subject(type=["AchievementSubject", "Learner"])),
    "relative id": _badge(id="relative-id"),
    "unpinned context": {**_badge(), "@context": [VC2_CONTEXT, "https://example.com/unknown/v1"]},
    "invalid local context": {**_badge(), "@context": [VC2_CONTEXT, 42]},
}
for _doc in EDGES.values():
    for _k in [k for k, v in _doc.items() if v is None]:
        del _doc[_k]
    _subj = _doc.get("credentialSubject")
    for _s in _subj if isinstance(_subj, list) else [_subj]:
        for _k in [k for k, v in (_s or {}).items() if v is None]:
            del _s[_k]

REFUSED = {"undefined top-level term", "undefined nested term",
           "undefined term under a type-scoped context", "undefined type", "undefined nested type",
           "relative id", "unpinned context", "invalid local context", "IRI with a brace",
           "IRI with a byte-order mark", "interchangeable blank nodes past the guard",
           "malformed language tag", "tiny double jsonld.js writes as 0", "integer past 2**53",
           "infinite double"}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_documents_match_the_references(name: str) -> None:
    out = assert_same(EDGES[name])
    assert (out is None) == (name in REFUSED), out


def test_control_characters_are_written_as_rdfc_1_0_and_jsonld_js_write_them() -> None:
    out = canonize(EDGES["control characters"])
    line = next(x for x in out.splitlines() if "\"bs" in x)
    assert '"bs\\b ff\\f nul\\u0000 us\\u001F del\\u007F vt\\u000B cr\\r" .' in line
    assert out == _jsonld_js(EDGES["control characters"])[0]
    assert out != _plain(EDGES["control characters"], DEFAULT_LOADER)  # pyld 3.3 alone writes them raw
    assert rdfc_form.escape_literal('a"b\\c\td\ne') == 'a\\"b\\\\c\\td\\ne'


def test_direction_is_kept_as_an_i18n_datatype_as_the_jsonld_js_cryptosuite_keeps_it() -> None:
    out = canonize(EDGES["direction value object"])
    assert '"شهادة"^^<https://www.w3.org/ns/i18n#ar_rtl> .' in out
    assert out == _jsonld_js(EDGES["direction value object"])[0]
    assert out != _plain(EDGES["direction value object"], DEFAULT_LOADER)  # plain pyld drops it


def test_poison_graphs_stop_where_rdf_canonize_stops() -> None:
    doc = EDGES["interchangeable blank nodes past the guard"]
    with pytest.raises(DataIntegrityError) as exc:
        canonize(doc)
    assert exc.value.code == "jsonld_error" and "more than 6 Hash N-Degree Quads runs" in exc.value.message
    assert _jsonld_js(doc)[1] == "Maximum deep iterations exceeded (6)."
    assert _plain(doc, DEFAULT_LOADER)  # pyld alone has no guard
    lighter = {**doc, "credentialSubject": doc["credentialSubject"][:1]}
    assert assert_same(lighter)  # two interchangeable results: within the guard, as for jsonld.js


@pytest.mark.parametrize(("name", "words"), [
    ("malformed language tag", "is not a language tag"),
    ("tiny double jsonld.js writes as 0", "would be written as an integer by jsonld.js"),
    ("integer past 2**53", "JavaScript would round it"),
    ("infinite double", "is not a finite number"),
])
def test_safe_mode_refuses_values_jsonld_js_reads_otherwise(name: str, words: str) -> None:
    with pytest.raises(DataIntegrityError) as exc:
        canonize(EDGES[name])
    assert exc.value.code == "jsonld_error" and words in exc.value.message
    if name == "tiny double jsonld.js writes as 0":
        assert '"0"^^<https://www.w3.org/2001/XMLSchema#float>' in (_jsonld_js(EDGES[name])[0] or "")
    elif name == "malformed language tag":
        assert "invalid @language value" in (_jsonld_js(EDGES[name])[1] or "")


def test_doubles_have_the_digits_of_javascript_to_exponential() -> None:
    out = canonize(EDGES["double on a rounding tie"])
    assert '"5.960464477539063E-8"^^<https://www.w3.org/2001/XMLSchema#float>' in out  # pyld: …062E-8
    assert out == _jsonld_js(EDGES["double on a rounding tie"])[0]
    values = (1.5, 0.1, 1e21, 2.0**-24, -(2.0**-24), 1e23, 0.0, -0.0, 5e-324)
    assert [rdfc_form.js_double(v) for v in values] == [
        "1.5E0", "1.0E-1", "1.0E21", "5.960464477539063E-8", "-5.960464477539063E-8",
        "9.999999999999999E22", "0.0E0", "0.0E0", "4.940656458412465E-324"]


def test_safe_mode_refuses_what_no_iri_may_hold() -> None:
    for name in ("IRI with a brace", "IRI with a byte-order mark"):
        with pytest.raises(DataIntegrityError) as exc:
            canonize(EDGES[name])
        assert exc.value.code == "jsonld_error" and "which no IRI may hold" in exc.value.message


@pytest.mark.parametrize(("name", "code", "term"), [
    ("undefined top-level term", "jsonld_error", "undefinedTerm"),
    ("undefined term under a type-scoped context", "jsonld_error", "grade"),
    ("undefined nested type", "jsonld_error", "Learner"),
    ("unpinned context", "unknown_context", "https://example.com/unknown/v1"),
])
def test_safe_mode_still_refuses_after_the_caches_are_warm(name: str, code: str, term: str) -> None:
    canonize(_badge())  # warm: every OB 3.0 scoped context processed and memoized
    for _ in range(2):
        with pytest.raises(DataIntegrityError) as exc:
            canonize(EDGES[name])
        assert exc.value.code == code and term in exc.value.message
        with pytest.raises(DataIntegrityError):
            canonize({k: v for k, v in EDGES[name].items() if k != "id"}, memo=True)  # never memoized


class _Dropped(Exception):
    pass


def _refuse(prop: str | None) -> None:
    raise _Dropped(prop)


def test_expand_calls_the_dropped_property_hook_after_the_caches_are_warm() -> None:
    rdfc.expand(_badge())
    for doc, term in ((EDGES["undefined top-level term"], "undefinedTerm"),
                      (EDGES["undefined term under a type-scoped context"], "grade")):
        with pytest.raises(_Dropped) as exc:
            rdfc.expand(doc, on_property_dropped=_refuse)
        assert exc.value.args == (term,)
        assert term not in json.dumps(rdfc.expand(doc))  # without the hook pyld drops it, as before


def test_a_context_string_is_not_confused_with_a_context_object() -> None:
    inline = {"ex": "https://example.com/ns#", "exTerm": "ex:term"}
    doc = {"@context": [VC2_CONTEXT, inline], "type": "VerifiableCredential", "exTerm": "v",
           "issuer": DID, "credentialSubject": {"id": DID}}
    assert assert_same(doc)
    as_text = {**doc, "@context": [VC2_CONTEXT, json.dumps(inline, separators=(",", ":"))]}
    with pytest.raises(DataIntegrityError) as exc:
        canonize(as_text)
    assert exc.value.code == "unknown_context"  # as with a fresh resolver: the loader refuses it
    assert _reference_error(as_text, DEFAULT_LOADER) == (exc.value.code, exc.value.message)


def test_loaders_with_different_contexts_for_one_url_do_not_share_the_memo() -> None:
    url = "https://example.com/ctx/v1"
    one = StaticLoader({url: {"@context": {"term": "https://one.example/term", "T": "https://one.example/T"}}})
    two = StaticLoader({url: {"@context": {"term": "https://two.example/term", "T": "https://two.example/T"}}})
    doc = {"@context": url, "@id": "urn:uuid:1", "@type": "T", "term": "v"}
    first, second = assert_same(doc, one, oracle=False), assert_same(doc, two, oracle=False)
    assert first and "one.example/term" in first and second and "two.example/term" in second
    assert canonize(doc, one) == first


# -- the memo is hit (the speed-up could regress silently otherwise) --------------------------

def test_warm_canonicalization_defines_no_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    canonize(sample_badge(0, issuer_id=DID, issuer_name="Example University"))
    calls = []
    original = jsonld.JsonLdProcessor._create_term_definition

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[2] if len(args) > 2 else None)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rdfc._SafeProcessor, "_create_term_definition", counting, raising=False)
    for i in range(1, 6):
        canonize(sample_badge(i, issuer_id=DID, issuer_name="Example University"))
    assert calls == []
    monkeypatch.setattr(_ReferenceSafe, "_create_term_definition", counting, raising=False)
    shared = {**_options(DEFAULT_LOADER), "contextResolver": rdfc._resolver(DEFAULT_LOADER)}
    _ReferenceSafe().normalize(sample_badge(1, issuer_id=DID, issuer_name="Example University"), shared)
    assert len(calls) > 20  # pyld alone re-processes the type-scoped contexts of every document


def test_threads_share_the_caches_safely() -> None:
    docs = [sample_badge(i, issuer_id=DID, issuer_name="Example University", seed=3) for i in range(40)]
    expected = [_plain(d, DEFAULT_LOADER) for d in docs]
    results: dict[int, list[str]] = {}

    def work(n: int) -> None:
        results[n] = [canonize(d) for d in docs]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[n] == expected for n in range(4))


# -- hypothesis: OB 3.0-like credentials -------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_word = st.text("abcdefghijklmnopqrstuvwxyzABCXYZ", min_size=1, max_size=8)
_iri = st.one_of(st.builds(lambda w: f"urn:uuid:{w}", st.uuids()),
                 st.builds(lambda w: f"https://example.edu/{w}", _word), st.just(DID))
_lang = st.sampled_from(["en", "fr", "de-CH", "ar", "zh-Hant", "EN-gb", "x-private", "i-klingon",
                         "sr-Latn-RS", "en", "fr", "ar",
                         "en US", "123", ""])  # the last three are no language tags
_label = st.one_of(_text, st.builds(lambda v, lang: {"@value": v, "@language": lang}, _text, _lang),
                   st.builds(lambda v, lang, d: {"@value": v, "@language": lang, "@direction": d},
                             _text, _lang, st.sampled_from(["ltr", "rtl"])),
                   st.lists(st.builds(lambda v, lang: {"@value": v, "@language": lang}, _text, _lang),
                            min_size=1, max_size=3))
_number = st.one_of(st.integers(-10**6, 10**6), st.integers(-(2**53 - 1), 2**53 - 1),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.floats(allow_nan=False, allow_infinity=False))
_json_value = st.recursive(st.one_of(st.none(), st.booleans(), _number, st.text(max_size=6)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                           max_leaves=8)
_date = st.builds(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  st.datetimes(min_value=__import__("datetime").datetime(1990, 1, 1),
                               max_value=__import__("datetime").datetime(2090, 1, 1)))
_UNDEFINED = st.sampled_from(["nickname", "grade", "fooBar", "Ünicode"])


def _maybe(strategy: Any) -> Any:
    return st.one_of(st.none(), strategy)


@st.composite
def _result(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": draw(st.sampled_from([["Result"], "Result"]))}
    status = st.sampled_from(["Completed", "Enrolled"])
    for key, value in (("value", _maybe(_text)), ("status", _maybe(status)),
                       ("resultDescription", _maybe(_iri)), ("achievedLevel", _maybe(_iri))):
        v = draw(value)
        if v is not None:
            out[key] = v
    return out


@st.composite
def _achievement(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ["Achievement"], "name": draw(_label),
                           "criteria": {"narrative": draw(_text)}}
    if draw(st.booleans()):
        out["id"] = draw(_iri)
    if draw(st.booleans()):
        out["description"] = draw(_label)
    if draw(st.booleans()):
        out["tag"] = draw(st.lists(_text, max_size=4))
    if draw(st.booleans()):
        out["alignment"] = draw(st.lists(st.fixed_dictionaries(
            {"type": st.just(["Alignment"]), "targetName": _text, "targetUrl": _iri}), max_size=3))
    if draw(st.booleans()):
        out["resultDescription"] = draw(st.lists(st.fixed_dictionaries(
            {"id": _iri, "type": st.just(["ResultDescription"]), "name": _text,
             "resultType": st.sampled_from(["LetterGrade", "Percent", "Status"]),
             "allowedValue": st.lists(_text, max_size=4)}), max_size=2))
    if draw(st.booleans()):
        out["creditsAvailable"] = draw(_number)
    if draw(st.booleans()):
        out["creator"] = {"id": draw(_iri), "type": ["Profile"], "name": draw(_text)}
    return out


@st.composite
def _subject_of(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ["AchievementSubject"], "achievement": draw(_achievement())}
    if draw(st.booleans()):
        out["id"] = draw(_iri)
    if draw(st.booleans()):
        out["result"] = draw(st.lists(_result(), max_size=4))
    if draw(st.booleans()):
        out["creditsEarned"] = draw(_number)
    if draw(st.booleans()):
        out["activityEndDate"] = draw(_date)
    if draw(st.booleans()):
        out["identifier"] = [{"type": "IdentityObject", "hashed": draw(st.booleans()),
                              "identityHash": draw(_text), "identityType": "emailAddress"}]
    return out


@st.composite
def credentials(draw: Any) -> tuple[dict[str, Any], bool]:
    """An OB 3.0-like credential, and whether an undefined term or type was planted in it."""
    subjects = draw(st.lists(_subject_of(), min_size=1, max_size=3))
    issuer: Any = draw(st.one_of(_iri, st.builds(lambda i, n: {"id": i, "type": ["Profile"], "name": n},
                                                 _iri, _label)))
    doc: dict[str, Any] = {"@context": [VC2_CONTEXT, OB3_CONTEXT],
                           "type": ["VerifiableCredential", draw(st.sampled_from(
                               ["OpenBadgeCredential", "AchievementCredential"]))],
                           "issuer": issuer, "validFrom": draw(_date), "name": draw(_label),
                           "credentialSubject": subjects[0] if len(subjects) == 1 else subjects}
    if draw(st.booleans()):
        doc["id"] = draw(_iri)
    if draw(st.booleans()):
        doc["description"] = draw(_label)
    if draw(st.booleans()):
        doc["credentialSchema"] = [{"id": draw(_iri), "type": "JsonSchema", "jsonSchema": draw(_json_value)}]
    if draw(st.booleans()):
        doc["evidence"] = draw(st.lists(st.fixed_dictionaries(
            {"type": st.just(["Evidence"]), "name": _text, "narrative": _text}), max_size=2))
    if draw(st.booleans()):
        doc["@context"] = [*doc["@context"], {
            "ex": "https://example.com/ns#", "exNote": "ex:note",
            "exNames": {"@id": "ex:names", "@container": "@language"},
            "exSteps": {"@id": "ex:steps", "@container": "@list"}}]
        doc["exNote"] = draw(_text)
        doc["exNames"] = draw(st.dictionaries(_lang, _text, max_size=3))
        doc["exSteps"] = draw(st.lists(st.one_of(_text, _number, st.booleans()), max_size=4))
    planted = draw(st.sampled_from([None, None, None, "top", "subject", "result", "type"]))
    subject = subjects[0]
    if planted == "top":
        doc[draw(_UNDEFINED)] = draw(_text)
    elif planted == "subject":
        subject[draw(_UNDEFINED)] = draw(_text)
    elif planted == "result":
        subject["result"] = [*subject.get("result", []), {"type": ["Result"], draw(_UNDEFINED): "x"}]
    elif planted == "type":
        subject["type"] = ["AchievementSubject", draw(st.sampled_from(["Learner", "Student"]))]
    return doc, planted is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(credentials())
def test_generated_credentials_match_the_references(case: tuple[dict[str, Any], bool]) -> None:
    doc, planted = case
    out = assert_same(doc)
    if planted:
        assert out is None  # safe mode refused the planted term, as the reference does


# -- hypothesis: JSON-LD beyond credentials (containers, graphs, lists, reverse, @json) ------

_WILD_CONTEXT = {
    "@vocab": "https://vocab.example/", "ex": "https://ex.example/", "xsd": "http://www.w3.org/2001/XMLSchema#",
    "list": {"@container": "@list"}, "set": {"@container": "@set"}, "lang": {"@container": "@language"},
    "idx": {"@container": "@index"}, "idmap": {"@container": "@id"}, "typemap": {"@container": "@type"},
    "rev": {"@reverse": "ex:forward"}, "ref": {"@type": "@id"}, "date": {"@type": "xsd:date"},
    "dbl": {"@type": "xsd:double"}, "js": {"@type": "@json"}, "nest": "@nest",
    "g": {"@container": "@graph"}, "vref": {"@type": "@vocab"}}
_wild_key = st.sampled_from(["a", "b", "ex:c", "list", "set", "lang", "idx", "idmap", "typemap", "rev", "ref",
                             "date", "dbl", "js", "nest", "g", "vref", "@type", "@id", "@included"])
_wild_scalar = st.one_of(_text, _number, st.booleans(), st.none(),
                         st.sampled_from(["_:x", "_:y", "https://ex.example/n1", "urn:x:1", "ex:n2",
                                          "1.5e3"]))


def _wild_node(children: Any) -> Any:
    value = st.one_of(_wild_scalar, children, st.lists(st.one_of(_wild_scalar, children), max_size=3))
    return st.dictionaries(_wild_key, value, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.recursive(_wild_node(st.nothing()), _wild_node, max_leaves=12))
@example({"g": []})  # found by hypothesis: a graph container holding nothing leaves an empty object,
@example({"g": [None]})  # which jsonld.js's safe mode refuses (pyld kept the property as [])
def test_generated_json_ld_documents_canonicalize_as_jsonld_js_does(body: dict[str, Any]) -> None:
    """Whatever is accepted here is what jsonld.js computes, byte for byte; whatever jsonld.js's
    safe mode refuses is refused here (this side may refuse more: odd IRIs, pyld's own limits)."""
    doc = {"@context": _WILD_CONTEXT, **body}
    out, err = _fast(doc, DEFAULT_LOADER)
    js_out, js_err = _jsonld_js(doc)
    if out is not None:
        assert js_err is None, f"accepted here, refused by jsonld.js: {js_err}"
        assert out == js_out
    else:
        assert err is not None and err[0] == "jsonld_error"

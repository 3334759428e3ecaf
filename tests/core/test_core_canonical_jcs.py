"""``canonical_bytes`` (fast path or reference path) is byte-identical to the reference RFC 8785
implementation, and never changes its argument."""

from __future__ import annotations

import copy
import json
from typing import Any

import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from registry.anchor.demo import badge, generate
from registry.core.canonical import canonical_bytes, load_document
from registry.core.samples import sample_badge
from registry.errors import CanonicalizationError

# text without lone surrogates (the strict parser rejects those), astral characters included
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
numbers = st.one_of(
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 2.7, 1e-4, 9.99e-5, 1e15 + 0.5, 1e16, 1e21, 5e-324, -0.0, 2.0, 123.456]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)


def _reference(doc: dict[str, Any]) -> bytes:
    return rfc8785.dumps({k: v for k, v in doc.items() if k != "proof"})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(text, values, max_size=6))
def test_canonical_bytes_match_reference_jcs_on_parsed_documents(doc: dict[str, Any]) -> None:
    try:  # intake and verification only see strictly parsed documents
        parsed = load_document(json.dumps(doc).encode())
    except CanonicalizationError:
        assume(False)
    before = copy.deepcopy(parsed)
    assert canonical_bytes(parsed) == _reference(parsed)
    assert parsed == before and json.dumps(parsed) == json.dumps(before)  # floats stay floats


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(text, values, max_size=6))
def test_canonical_bytes_match_reference_jcs_or_refuse_like_it(doc: dict[str, Any]) -> None:
    before = copy.deepcopy(doc)
    try:
        ours: bytes | None = canonical_bytes(doc)
    except CanonicalizationError:
        ours = None
    assert doc == before
    if ours is not None:
        assert ours == _reference(doc)


def test_real_credentials_round_trip() -> None:
    docs = [badge(1), badge(2, with_id=False), *generate(3)]
    docs += [sample_badge(i, issuer_id="https://example.edu/i", issuer_name="E", seed=3) for i in range(20)]
    for d in docs:
        parsed = load_document(json.dumps(d).encode())
        assert canonical_bytes(parsed) == _reference(parsed)


def test_astral_keys_exponent_and_integral_floats() -> None:
    doc = {"\U0001f600": 1, "\ufb01": 2, "a": 1e21, "b": 1e-7, "c": 2.0}
    assert canonical_bytes(copy.deepcopy(doc)) == rfc8785.dumps(doc)
    fixed = {"a": [2.0, {"b": -0.0}]}
    assert canonical_bytes(fixed) == rfc8785.dumps({"a": [2.0, {"b": -0.0}]}) == b'{"a":[2,{"b":0}]}'
    assert fixed == {"a": [2.0, {"b": -0.0}]} and type(fixed["a"][0]) is float  # not changed


def test_proof_is_left_out_and_lone_surrogates_refused() -> None:
    assert canonical_bytes({"b": 1, "a": "x", "proof": {"p": 1}}) == b'{"a":"x","b":1}'
    try:
        canonical_bytes({"a": "\ud800"})
    except CanonicalizationError as exc:
        assert exc.code == "invalid_unicode"
    else:  # pragma: no cover
        raise AssertionError("a lone surrogate was accepted")

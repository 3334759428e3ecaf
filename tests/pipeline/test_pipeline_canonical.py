"""The intake's fast canonical form is byte-identical to the reference RFC 8785 implementation."""

from __future__ import annotations

import copy
import json
from typing import Any

import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from registry.anchor.demo import badge, generate
from registry.anchor.intake import _jcs_safe, canonical
from registry.core.canonical import canonical_bytes, load_document
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


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(text, values, max_size=6))
def test_fast_canonical_matches_reference_jcs(doc: dict[str, Any]) -> None:
    try:  # the pipeline only sees strictly parsed documents
        reparsed = load_document(json.dumps(doc).encode())
    except CanonicalizationError:
        assume(False)
    reference = canonical_bytes(reparsed)
    body = {k: v for k, v in reparsed.items() if k != "proof"}
    assert canonical(copy.deepcopy(reparsed)) == reference == rfc8785.dumps(body)


def test_fast_path_is_taken_for_real_credentials() -> None:
    docs = [badge(1), badge(2, with_id=False), *generate(3)]
    for d in docs:
        parsed = load_document(json.dumps(d).encode())
        assert _jcs_safe(parsed)
        assert canonical(parsed) == canonical_bytes(parsed)


def test_astral_keys_and_exponent_floats_take_the_reference_path() -> None:
    assert not _jcs_safe({"\U0001f600": 1})
    assert not _jcs_safe({"a": 1e21}) and not _jcs_safe({"a": 1e-7})
    doc = {"\U0001f600": 1, "\ufb01": 2, "a": 1e21, "b": 1e-7, "c": 2.0}
    assert canonical(copy.deepcopy(doc)) == rfc8785.dumps(doc)
    fixed = {"a": [2.0, {"b": -0.0}]}
    assert _jcs_safe(fixed) and fixed == {"a": [2, {"b": 0}]}
    assert (
        canonical({"a": [2.0, {"b": -0.0}]})
        == rfc8785.dumps({"a": [2.0, {"b": -0.0}]})
        == b'{"a":[2,{"b":0}]}'
    )

"""Canonical form: strict intake, every rejection path, JCS bytes and the digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.canonical import (
    DEFAULT_MAX_BYTES,
    MAX_SAFE_INTEGER,
    canonical_bytes,
    document_digest,
    json_pointer,
    load_document,
    parse_json,
    sha256,
)
from registry.errors import CanonicalizationError, InputError


def _err(data: bytes | str, **kw: Any) -> CanonicalizationError:
    with pytest.raises(CanonicalizationError) as info:
        load_document(data, **kw)
    return info.value


def test_error_family() -> None:
    err = _err(b'{"a":1,"a":2}')
    assert isinstance(err, InputError)
    assert str(err).startswith("duplicate_key: ")


# -- invalid UTF-8 ----------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "offset"), [
    (b'{"a":"\xff"}', 6),
    (b'{"name":"caf\xc3"}', 12),                 # truncated 2-byte sequence
    (b'{"k":"\xed\xa0\x80"}', 6),                # UTF-8 encoded surrogate (CESU) is not UTF-8
    (b'\xc0\xaf{}', 0),                          # overlong encoding
])
def test_invalid_utf8(data: bytes, offset: int) -> None:
    err = _err(data)
    assert err.code == "invalid_utf8"
    assert err.details["offset"] == offset
    assert f"byte offset {offset}" in err.message


def test_lone_surrogate_escape_rejected() -> None:
    err = _err(b'{"a":{"b":"x\\ud800y"}}')
    assert err.code == "invalid_unicode"
    assert err.details["path"] == "/a/b"
    assert "'/a/b'" in err.message


def test_lone_surrogate_in_key_rejected() -> None:
    err = _err(b'{"a":{"\\udc00":1}}')
    assert err.code == "invalid_unicode"
    assert err.details["path"] == "/a"


def test_surrogate_pair_escape_accepted() -> None:
    doc = load_document(b'{"a":"\\ud83d\\ude00"}')
    assert doc == {"a": "\U0001F600"}
    assert canonical_bytes(doc) == '{"a":"\U0001F600"}'.encode()


# -- duplicate keys ---------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "path", "key"), [
    (b'{"a":1,"a":2}', "", "a"),
    (b'{"a":{"b":1,"c":2,"b":1}}', "/a", "b"),
    (b'{"list":[{"x":1},{"x":1,"x":1}]}', "/list/1", "x"),
    (b'{"a/b":{"~":{"k":1,"k":2}}}', "/a~1b/~0", "k"),
])
def test_duplicate_keys(data: bytes, path: str, key: str) -> None:
    err = _err(data)
    assert err.code == "duplicate_key"
    assert err.details["path"] == path
    assert err.details["key"] == key
    assert repr(key) in err.message


def test_std_parser_would_have_kept_last() -> None:
    # The reason for the check: json.loads silently keeps the last value.
    assert json.loads('{"a":1,"a":2}') == {"a": 2}
    with pytest.raises(CanonicalizationError):
        parse_json(b'{"a":1,"a":2}')


# -- NaN / Infinity ---------------------------------------------------------------------------

@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite(literal: str) -> None:
    err = _err('{"score":{"value":[1,' + literal + "]}}")
    assert err.code == "non_finite_number"
    assert err.details["path"] == "/score/value/1"


def test_non_finite_python_values() -> None:
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(CanonicalizationError) as info:
            canonical_bytes({"a": [value]})
        assert info.value.code == "non_finite_number"
        assert info.value.details["path"] == "/a/0"


# -- integers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**64, 10**30])
def test_integer_out_of_range(value: int) -> None:
    err = _err(b'{"n":{"m":%d}}' % value)
    assert err.code == "integer_out_of_range"
    assert err.details["path"] == "/n/m"
    assert str(value) in err.message
    with pytest.raises(CanonicalizationError) as info:
        canonical_bytes({"n": {"m": value}})
    assert info.value.code == "integer_out_of_range"


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0])
def test_integer_edges_accepted(value: int) -> None:
    doc = load_document(b'{"n":%d}' % value)
    assert doc["n"] == value
    assert canonical_bytes(doc) == b'{"n":%d}' % value


def test_integral_float_beyond_range() -> None:
    # JCS writes 1e20 as the integer literal 100000000000000000000, which a strict reader refuses,
    # so it is refused on the way in; from 1e21 on JCS keeps the exponent form.
    err = _err(b'{"x":[1e20]}')
    assert err.code == "integer_out_of_range"
    assert err.details["path"] == "/x/0"
    with pytest.raises(CanonicalizationError):
        canonical_bytes({"x": float(2**53)})
    assert canonical_bytes(load_document(b'{"x":1e21,"y":9007199254740991.0,"z":1.5e300}')) == (
        b'{"x":1e+21,"y":9007199254740991,"z":1.5e+300}')


# -- size cap ---------------------------------------------------------------------------------

def _doc_of_size(n: int) -> bytes:
    head = b'{"pad":"'
    tail = b'"}'
    return head + b"x" * (n - len(head) - len(tail)) + tail


def test_size_cap_default() -> None:
    assert len(load_document(_doc_of_size(DEFAULT_MAX_BYTES))["pad"]) > 1000
    err = _err(_doc_of_size(DEFAULT_MAX_BYTES + 1))
    assert err.code == "document_too_large"
    assert err.details["size"] == DEFAULT_MAX_BYTES + 1
    assert str(DEFAULT_MAX_BYTES) in err.message


def test_size_cap_configurable() -> None:
    assert load_document(_doc_of_size(100), max_bytes=100)
    err = _err(_doc_of_size(101), max_bytes=100)
    assert err.code == "document_too_large"
    assert err.details["max_bytes"] == 100
    big = _doc_of_size(2 * DEFAULT_MAX_BYTES)
    assert load_document(big, max_bytes=3 * DEFAULT_MAX_BYTES)["pad"].startswith("x")


# -- depth ------------------------------------------------------------------------------------

def _nested(levels: int) -> bytes:
    """An object whose member holds ``levels - 1`` nested arrays: ``levels`` containers in all."""
    inner = levels - 1
    return b'{"a":' + b"[" * inner + b"]" * inner + b"}"


def test_depth_bound() -> None:
    assert load_document(_nested(64))
    err = _err(_nested(65))
    assert err.code == "nesting_too_deep"
    assert err.details["path"] == "/a" + "/0" * 63
    assert load_document(_nested(10), max_depth=10)
    assert _err(_nested(11), max_depth=10).code == "nesting_too_deep"


def test_extreme_depth_does_not_crash() -> None:
    data = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(CanonicalizationError) as info:
        parse_json(data)
    assert info.value.code == "nesting_too_deep"
    assert info.value.details["offset"] == 64
    assert info.value.details["path"] == "/0" * 64
    # keys are tracked through escapes and strings holding brackets
    doc = b'{"a\\"[{":{"k\\u00e9":[1,{"x":"[[[[","y":' + b"[" * 70 + b"]" * 70 + b"}]}}"
    with pytest.raises(CanonicalizationError) as info:
        parse_json(doc)
    assert info.value.details["path"] == '/a"[{/k\u00e9/1/y' + "/0" * 60


def test_depth_bound_applies_to_python_documents() -> None:
    doc: dict[str, Any] = {}
    cur = doc
    for _ in range(70):
        cur["c"] = {}
        cur = cur["c"]
    with pytest.raises(CanonicalizationError) as info:
        canonical_bytes(doc)
    assert info.value.code == "nesting_too_deep"


# -- top level, syntax ------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "kind"), [
    (b"[1,2]", "an array"), (b'"s"', "a string"), (b"3", "a number"), (b"null", "null"),
    (b"true", "a boolean"),
])
def test_non_object_top_level(data: bytes, kind: str) -> None:
    parse_json(data)  # fine as JSON
    err = _err(data)
    assert err.code == "not_an_object"
    assert kind in err.message
    assert err.details["path"] == ""


@pytest.mark.parametrize("data", [b"", b"{", b'{"a":}', b"{'a':1}", b'{"a":1,}', b"{} {}", b"\xef\xbb\xbf{}"])
def test_invalid_json(data: bytes) -> None:
    err = _err(data)
    assert err.code == "invalid_json"
    assert "invalid JSON" in err.message


def test_invalid_json_position() -> None:
    err = _err(b'{\n  "a": 1,\n  "b": }')
    assert (err.details["line"], err.details["column"]) == (3, 8)


def test_whitespace_around_document() -> None:
    assert load_document(b' \n\t{"a":1}\r\n') == {"a": 1}


def test_unsupported_python_values() -> None:
    for doc, path in (({"a": {1: 2}}, "/a"), ({"a": [object()]}, "/a/0"), ({"a": b"x"}, "/a")):
        with pytest.raises(CanonicalizationError) as info:
            canonical_bytes(doc)
        assert info.value.code == "unsupported_value"
        assert info.value.details["path"] == path
    with pytest.raises(CanonicalizationError) as info:
        canonical_bytes([1, 2])  # type: ignore[arg-type]
    assert info.value.code == "not_an_object"


def test_json_pointer_escaping() -> None:
    assert json_pointer(()) == ""
    assert json_pointer(("a/b", "m~n", 3)) == "/a~1b/m~0n/3"


# -- canonical bytes and digest ---------------------------------------------------------------

def test_rfc8785_example() -> None:
    # RFC 8785 section 3.2.2 input (numbers and string escapes), expected output from section 3.2.3
    data = (
        b'{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        b' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        b' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_bytes(load_document(data)) == expected


def test_key_order_is_utf16() -> None:
    # JCS sorts by UTF-16 code units: U+1F600 (surrogates D83D…) sorts before U+FB01.
    doc = {"\ufb01": 1, "\U0001F600": 2, "a": 3}
    assert canonical_bytes(doc) == '{"a":3,"\U0001F600":2,"\ufb01":1}'.encode()


def test_proof_is_excluded() -> None:
    doc = {"id": "urn:uuid:1", "name": "x", "proof": {"type": "Anything", "v": 1}}
    assert canonical_bytes(doc) == b'{"id":"urn:uuid:1","name":"x"}'
    assert document_digest(doc) == document_digest({"name": "x", "id": "urn:uuid:1"})
    assert document_digest(doc) != document_digest({"name": "y", "id": "urn:uuid:1"})
    assert "proof" in doc  # input untouched


def test_digest_is_sha256_of_canonical_bytes() -> None:
    doc = load_document('{"b": [1.0, 2.50], "a": "é"}'.encode())
    cb = canonical_bytes(doc)
    assert cb == '{"a":"é","b":[1,2.5]}'.encode()
    assert document_digest(doc) == hashlib.sha256(cb).digest() == sha256(cb)
    assert len(document_digest(doc)) == 32


_json_leaf = (
    st.none() | st.booleans() | st.text()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: not (f.is_integer() and MAX_SAFE_INTEGER < abs(f) < 1e21))
)
_json = st.recursive(
    _json_leaf,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json, max_size=5))
def test_canonical_roundtrip(doc: dict[str, Any]) -> None:
    doc.pop("proof", None)
    cb = canonical_bytes(doc)
    again = load_document(cb)
    assert canonical_bytes(again) == cb
    # Canonical bytes do not depend on how the document was written.
    assert canonical_bytes(load_document(json.dumps(doc, indent=2, ensure_ascii=True))) == cb


def test_python_documents_take_the_same_checks() -> None:
    from collections import OrderedDict

    for doc, path in (({"a": ["x", "\ud800"]}, "/a/1"), ({"k": {"\udfff": 1}}, "/k")):
        with pytest.raises(CanonicalizationError) as info:
            canonical_bytes(doc)
        assert info.value.code == "invalid_unicode"
        assert info.value.details["path"] == path
    # other mappings and tuples are fine, and give the same bytes as dicts and lists
    od = OrderedDict([("b", (1, 2)), ("a", OrderedDict(z=True))])
    expected = b'{"a":{"z":true},"b":[1,2]}'
    assert canonical_bytes(od) == canonical_bytes({"a": {"z": True}, "b": [1, 2]}) == expected
    # a bool is not an integer out of range, and subclasses of str are still strings
    assert canonical_bytes({"t": True, "s": type("S", (str,), {})("v")}) == b'{"s":"v","t":true}'


# -- issue 10 item 8 / 9: huge integer literals and bounded messages ----------------------------

@pytest.mark.parametrize("digits", [4_301, 100_000])
def test_integer_literal_past_python_digit_limit_is_a_coded_error(digits: int) -> None:
    # before: int() raised a bare ValueError ("Exceeds the limit (4300 digits)"), exit 70
    err = _err(b'{"a":[1,{"n":-%s}]}' % (b"9" * digits))
    assert err.code == "integer_out_of_range"
    assert err.details["path"] == "/a/1/n"
    assert f"of {digits} digits" in err.message
    assert len(err.message) <= 300


def test_canonical_error_messages_are_bounded() -> None:
    long_key = "k" * 50_000
    err = _err(('{"' + long_key + '": 1, "' + long_key + '": 2}').encode())
    assert err.code == "duplicate_key"
    assert len(err.message) <= 300 and len(str(err.details["key"])) <= 120
    err = _err(('{"' + long_key + '": {"n": 1e400}}').encode())
    assert err.code == "non_finite_number"
    assert len(err.message) <= 300 and len(err.details["path"]) <= 1000
    err = canonical_error({"n": 10**5000})
    assert err.code == "integer_out_of_range" and len(err.message) <= 300


def canonical_error(doc: dict[str, Any]) -> CanonicalizationError:
    with pytest.raises(CanonicalizationError) as info:
        canonical_bytes(doc)
    return info.value

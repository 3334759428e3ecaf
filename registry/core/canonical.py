"""Strict JSON intake, RFC 8785 (JCS) canonical bytes and the document digest.

Everything a document may contain must survive JCS unchanged, so input that JCS cannot represent
faithfully is rejected with a :class:`~registry.errors.CanonicalizationError` whose ``code`` is
one of the stable codes below and whose ``details["path"]`` is a JSON pointer (RFC 6901).

=========================  ==============================================================
code                       meaning
=========================  ==============================================================
``document_too_large``     input longer than ``max_bytes``
``invalid_utf8``           input bytes are not UTF-8 (``details["offset"]`` = byte offset)
``invalid_json``           not JSON at all (``details["line"]``, ``details["column"]``)
``duplicate_key``          an object names the same member twice
``non_finite_number``      NaN, Infinity, -Infinity or a float literal that overflows
``integer_out_of_range``   an integer outside +-(2**53 - 1), also written as a float (``1e20``), or
                           an integer literal of any length (never converted: no 4,300-digit limit)
``nesting_too_deep``       objects/arrays nested deeper than ``max_depth``
``invalid_unicode``        a string holding a lone UTF-16 surrogate (``"\\ud800"``)
``not_an_object``          top level is not a JSON object (``load_document`` only)
``unsupported_value``      a Python value with no JSON form (``canonical_bytes`` only)
=========================  ==============================================================

Messages are bounded (:data:`MAX_MESSAGE_CHARS`): a key or value quoted in one is shortened, so a
hostile document cannot make an error larger than a few hundred bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import rfc8785

from registry.errors import CanonicalizationError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "CanonicalizationError",
    "canonical_bytes",
    "document_digest",
    "json_pointer",
    "load_document",
    "parse_json",
    "sha256",
    "shorten",
]

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1
MAX_MESSAGE_CHARS = 300  # longest error message (and longest quoted path) this module writes
_MAX_INT_DIGITS = 16  # 2**53 - 1 has 16 digits: a longer literal is out of range, never parsed

_SURROGATE = re.compile("[\ud800-\udfff]")


def json_pointer(path: tuple[str | int, ...] | list[str | int]) -> str:
    """Render a path as an RFC 6901 JSON pointer (``""`` is the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _fail(code: str, problem: str, path: tuple[str | int, ...] = (), **details: Any) -> CanonicalizationError:
    pointer = json_pointer(path)
    where = f"at {shorten(pointer, 120)!r}" if pointer else "at the document root"
    bounded = {k: shorten(v, 120) if isinstance(v, str) else v for k, v in details.items()}
    return CanonicalizationError(
        shorten(f"{shorten(problem, 170)} {where}"), code=code, path=shorten(pointer, 1000), **bounded
    )


class _NonFinite:
    """Placeholder the parser leaves where a non-finite number was written."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


class _DuplicateKeys(dict):  # type: ignore[type-arg]
    """An object that had duplicate members; remembers the first repeated key."""

    duplicate: str = ""


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                marked = _DuplicateKeys(pairs)
                marked.duplicate = key
                return marked
            seen.add(key)
    return out


class _BigInt:
    """Placeholder for an integer literal too long to be in range (never converted to ``int``)."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _parse_int(literal: str) -> Any:
    if len(literal) - literal.startswith("-") > _MAX_INT_DIGITS:
        return _BigInt(literal)  # int() would raise past 4,300 digits and is quadratic before
    return int(literal)


def _parse_constant(literal: str) -> _NonFinite:
    return _NonFinite(literal)


def _parse_float(literal: str) -> Any:
    value = float(literal)
    if not math.isfinite(value):
        return _NonFinite(literal)
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs_hook, parse_constant=_parse_constant, parse_float=_parse_float,
    parse_int=_parse_int,
)


def _check(value: Any, path: tuple[str | int, ...], max_depth: int, *, parsed: bool) -> None:
    """Walk a value and raise on the first thing JCS cannot represent faithfully."""
    depth = len(path)
    if isinstance(value, dict):
        if depth >= max_depth:
            raise _fail("nesting_too_deep", f"nesting deeper than {max_depth} levels", path,
                        max_depth=max_depth)
        if isinstance(value, _DuplicateKeys):
            raise _fail("duplicate_key", f"duplicate object key {value.duplicate!r}", path,
                        key=value.duplicate)
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail("unsupported_value", f"object key {key!r} is not a string", path)
            if _SURROGATE.search(key):
                raise _fail("invalid_unicode", f"object key {key!r} holds a lone UTF-16 surrogate", path)
            _check(item, (*path, key), max_depth, parsed=parsed)
    elif isinstance(value, list | tuple) and (not parsed or isinstance(value, list)):
        if depth >= max_depth:
            raise _fail("nesting_too_deep", f"nesting deeper than {max_depth} levels", path,
                        max_depth=max_depth)
        for i, item in enumerate(value):
            _check(item, (*path, i), max_depth, parsed=parsed)
    elif isinstance(value, str):
        if _SURROGATE.search(value):
            raise _fail("invalid_unicode", "string holds a lone UTF-16 surrogate", path)
    elif value is None or isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            shown = str(value) if value.bit_length() < 200 else f"of {value.bit_length()} bits"
            raise _fail("integer_out_of_range",
                        f"integer {shown} is outside the IEEE-754 exact range +-(2**53 - 1)", path)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _fail("non_finite_number", f"number {value!r} is not finite", path)
        if MAX_SAFE_INTEGER < abs(value) < 1e21 and value.is_integer():
            # JCS would write it as an integer literal beyond the exact range, which no strict
            # reader (this one included) accepts back: refuse it here already.
            raise _fail("integer_out_of_range",
                        f"number {value!r} is an integer outside the IEEE-754 exact range +-(2**53 - 1)",
                        path)
    elif isinstance(value, _NonFinite):
        raise _fail("non_finite_number", f"number {shorten(value.literal, 40)} is not finite", path)
    elif isinstance(value, _BigInt):
        digits = len(value.literal.lstrip("-"))
        shown = value.literal if digits <= 60 else f"of {digits} digits ({value.literal[:20]}\u2026)"
        raise _fail("integer_out_of_range",
                    f"integer {shown} is outside the IEEE-754 exact range +-(2**53 - 1)", path,
                    digits=digits)
    elif isinstance(value, Mapping):
        _check(dict(value), path, max_depth, parsed=parsed)
    else:
        raise _fail("unsupported_value", f"value of type {type(value).__name__} has no JSON form", path)


def _fast_ok(value: Any, depth: int, max_depth: int) -> bool:
    """Quick pass without path bookkeeping: True when nothing needs a closer look.

    Exact types only (``dict`` subclasses such as the duplicate-key marker, tuples, other
    mappings go to :func:`_check`); strings are not scanned here (see callers).
    """
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is dict:
        if depth >= max_depth:
            return False
        for k, x in value.items():
            if type(k) is not str:
                return False
            if type(x) is not str and not _fast_ok(x, depth + 1, max_depth):
                return False
        return True
    if t is list:
        if depth >= max_depth:
            return False
        return all(type(x) is str or _fast_ok(x, depth + 1, max_depth) for x in value)
    if t is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if t is float:
        return math.isfinite(value) and not (MAX_SAFE_INTEGER < abs(value) < 1e21 and value.is_integer())
    return False


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.S)


def _check_depth(text: str, max_depth: int) -> None:
    """Find nesting beyond ``max_depth`` before the recursive parser sees it, with its path.

    Only called when the document holds more brackets than ``max_depth`` at all.
    """
    stack: list[list[Any]] = []  # [is_object, key or index, expecting a key]
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok == "[" or tok == "{":
            if len(stack) >= max_depth:
                path = tuple(e[1] for e in stack)
                raise _fail("nesting_too_deep", f"nesting deeper than {max_depth} levels", path,
                            max_depth=max_depth, offset=m.start())
            stack.append([tok == "{", None if tok == "{" else 0, tok == "{"])
        elif tok == "]" or tok == "}":
            if stack:
                stack.pop()
        elif tok == ",":
            if stack:
                top = stack[-1]
                if top[0]:
                    top[2] = True
                else:
                    top[1] += 1
        elif tok == ":":
            if stack:
                stack[-1][2] = False
        elif stack and stack[-1][0] and stack[-1][2]:
            try:
                stack[-1][1] = json.loads(tok)
            except ValueError:
                stack[-1][1] = tok[1:-1]


def parse_json(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES,
               max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse JSON strictly; raise :class:`CanonicalizationError` on anything JCS cannot keep."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise _fail("document_too_large", f"document is {len(raw)} bytes, over the {max_bytes}-byte cap",
                    size=len(raw), max_bytes=max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail("invalid_utf8", f"invalid UTF-8 at byte offset {exc.start}", offset=exc.start) from None
    stripped = text.strip(" \t\r\n")
    if stripped.count("[") + stripped.count("{") > max_depth:
        _check_depth(stripped, max_depth)
    try:
        value, end = _DECODER.raw_decode(stripped)
    except RecursionError:  # pragma: no cover - _check_depth bounds the nesting first
        raise _fail("nesting_too_deep", f"nesting deeper than {max_depth} levels",
                    max_depth=max_depth) from None
    except json.JSONDecodeError as exc:
        raise _fail("invalid_json", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                    line=exc.lineno, column=exc.colno) from None
    except (ValueError, TypeError, OverflowError) as exc:  # any other decoder failure: still a code
        raise _fail("invalid_json", f"invalid JSON: {type(exc).__name__}: {shorten(str(exc), 120)}") from None
    if end != len(stripped):
        raise _fail("invalid_json", f"invalid JSON: extra data after the value (character {end})",
                    offset=end)
    if not _fast_ok(value, 0, max_depth) or _ESCAPED_SURROGATE.search(stripped):
        _check(value, (), max_depth, parsed=True)
    return value


def load_document(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Parse a credential document: strict JSON whose top level is an object."""
    value = parse_json(data, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number")
        raise _fail("not_an_object", f"top level must be a JSON object, got {kind}")
    return value


_UNSAFE: Any = object()  # marker: the fast serialisation below would not equal JCS


def _plain(v: Any, depth: int, max_depth: int) -> Any:
    """``v`` when ``json.dumps(sort_keys, compact)`` of it equals RFC 8785 JCS, a copy of it with
    integral floats turned into ints when only those differ, or :data:`_UNSAFE`.

    The plain serialisation equals JCS for strings (lone surrogates fail to encode, see the
    caller), booleans, null, integers within +-(2**53 - 1), non-integral finite floats with
    1e-4 <= |x| < 1e16 (both print the shortest round-trip digits in positional notation there),
    integral floats within the exact range (JCS prints ``2.0`` as ``2``: hence the copy), arrays,
    and objects whose keys are strings without characters outside the BMP (Python sorts keys by
    code point, JCS by UTF-16 code unit: the orders agree inside the BMP). Exact types only: dict
    subclasses (the duplicate-key marker), tuples and other mappings take the checked path.
    ``v`` itself is never changed.
    """
    t = type(v)
    if t is str or t is bool or v is None:
        return v
    if t is int:
        return v if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER else _UNSAFE
    if t is float:
        if v.is_integer():
            return int(v) if abs(v) <= MAX_SAFE_INTEGER else _UNSAFE
        return v if 1e-4 <= abs(v) < 1e16 else _UNSAFE
    if depth >= max_depth:
        return _UNSAFE
    if t is dict:
        copied: dict[str, Any] | None = None
        for k, x in v.items():
            if type(k) is not str or (not k.isascii() and max(k) > "\uffff"):
                return _UNSAFE
            if type(x) is str:
                continue
            y = _plain(x, depth + 1, max_depth)
            if y is not x:
                if y is _UNSAFE:
                    return _UNSAFE
                if copied is None:
                    copied = dict(v)
                copied[k] = y
        return v if copied is None else copied
    if t is list:
        items: list[Any] | None = None
        for i, x in enumerate(v):
            if type(x) is str:
                continue
            y = _plain(x, depth + 1, max_depth)
            if y is not x:
                if y is _UNSAFE:
                    return _UNSAFE
                if items is None:
                    items = list(v)
                items[i] = y
        return v if items is None else items
    return _UNSAFE


def canonical_bytes(doc: Mapping[str, Any], *, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    """RFC 8785 canonical bytes of ``doc`` without its ``proof`` member; ``doc`` is not changed.

    The only producer of canonical bytes in the tree. Typical documents take a fast path (the
    standard library's compact, key-sorted JSON, byte-identical to JCS for what :func:`_plain`
    admits); anything else is checked (:class:`CanonicalizationError` naming the value and where)
    and written by the reference ``rfc8785`` implementation.
    """
    if not isinstance(doc, Mapping):
        raise _fail("not_an_object", f"document must be a JSON object, got {type(doc).__name__}")
    body = {k: v for k, v in doc.items() if k != "proof"}
    plain = _plain(body, 0, max_depth)
    if plain is not _UNSAFE:
        try:
            return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        except UnicodeEncodeError:
            pass  # a lone surrogate: the checked path below names it
    _check(body, (), max_depth, parsed=False)
    try:
        return rfc8785.dumps(body)
    except (rfc8785.CanonicalizationError, UnicodeError, TypeError, ValueError) as exc:
        raise _fail("unsupported_value", f"JCS cannot represent the document ({exc})") from None


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data`` (32 bytes)."""
    return hashlib.sha256(data).digest()


def document_digest(doc: Mapping[str, Any]) -> bytes:
    """The credential digest: ``sha256(canonical_bytes(doc))``."""
    return hashlib.sha256(canonical_bytes(doc)).digest()

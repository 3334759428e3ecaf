"""RDF as jsonld.js (the processor of Data Integrity verifiers) writes it, on pyld's algorithms.

pyld 3.3 differs from jsonld.js / rdf-canonize 5 (``@digitalbazaar/vc``'s stack) in ways that
change a canonical form, hence a signature: literal escaping (RDFC-1.0's canonical N-Quads),
the digits of a double on a rounding tie, and no guard against poison graphs. Here are pyld's
functions with those parts replaced (:func:`rebound`, no copy of pyld's code), and the checks by
which safe mode refuses values the two would read differently. Pure.
"""

from __future__ import annotations

import decimal
import math
import re
import types
from typing import Any

from pyld import canon, jsonld, nquads

from registry.errors import DataIntegrityError, ErrorCode

__all__ = ["Rdfc10", "check_iri", "check_value", "escape_literal", "js_double", "pyld_object_to_rdf"]


def js_double(value: float) -> str:
    """The canonical ``xsd:double`` form pyld writes (``1.5E0``), with the digits JavaScript's
    ``toExponential(15)`` gives: a tie rounds away from zero there, to even in Python's format
    (``2**-24`` is ``5.960464477539063E-8`` in jsonld.js, ``…062E-8`` in pyld)."""
    exact = decimal.Decimal(float(value))
    if exact == 0:
        return "0.0E0"
    sign, exact = ("-" if exact < 0 else ""), abs(exact)
    exponent = exact.adjusted()
    digits = exact.scaleb(-exponent).quantize(_SIXTEEN_DIGITS, rounding=decimal.ROUND_HALF_UP)
    if digits >= 10:  # 9.9999999999999999… rounded up to 10
        exponent += 1
        digits = (digits / 10).quantize(_SIXTEEN_DIGITS, rounding=decimal.ROUND_HALF_UP)
    mantissa = str(digits).rstrip("0")
    return f"{sign}{mantissa}{'0' if mantissa.endswith('.') else ''}E{exponent}"


_SIXTEEN_DIGITS = decimal.Decimal("1.000000000000000")
_XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double"
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_BCP47 = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*\Z")  # jsonld.js's test of a language tag


def check_value(item: dict[str, Any]) -> None:
    """A value object that every JSON-LD processor turns into the same literal, else refused.

    jsonld.js, the processor of Data Integrity verifiers, refuses a malformed language tag in safe
    mode, reads a number as a JavaScript double, and writes a double whose shortest form has no
    ``.`` and is below 1e21 (``1e-7``) as the integer ``0``: such values would be signed here
    and computed differently there.
    """
    language = item.get("@language")
    if isinstance(language, str) and not _BCP47.match(language):
        raise DataIntegrityError(f"JSON-LD safe mode: @language {language!r} is not a language tag",
                                 code=ErrorCode.JSONLD_ERROR, term=language)
    value = item["@value"]
    if isinstance(value, str) and item.get("@type") == _XSD_DOUBLE and not _DECIMAL_TEXT.match(value):
        raise DataIntegrityError(f"JSON-LD safe mode: {value!r} typed xsd:double is not a decimal number"
                                 " (jsonld.js would parse it otherwise)", code=ErrorCode.JSONLD_ERROR,
                                 term=value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        problem = "is not a finite number"
    elif isinstance(value, int) and abs(value) < 1e21 and float(value) != value:
        problem = "is not a double (JavaScript would round it)"
    elif isinstance(value, float) and 0 < abs(value) < 1e-6 and "." not in repr(value):
        # below 1e-6 both write the shortest digits as d[.ddd]e-N: no "." means one digit
        problem = "would be written as an integer by jsonld.js"
    else:
        return
    raise DataIntegrityError(f"JSON-LD safe mode: the number {value!r} {problem}",
                             code=ErrorCode.JSONLD_ERROR, term=repr(value))


# Characters no IRI may hold (RFC 3987) and that canonical N-Quads would have to escape, plus the
# white space of either Python's or JavaScript's ``\s`` (the two disagree on which IRI is absolute).
_NOT_IN_IRI = re.compile("[\x00-\x20<>\"{}|^`\\\\\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029"
                         "\u202f\u205f\u3000\ufeff]")


def check_iri(value: str, what: str) -> None:
    """A blank node or an absolute IRI of allowed characters, else the safe-mode error."""
    if value.startswith("_:"):
        return
    if not jsonld._is_absolute_iri(value):
        raise DataIntegrityError(f"JSON-LD safe mode: {what} {value!r} is a relative IRI (undefined term?)",
                                 code=ErrorCode.JSONLD_ERROR, term=value)
    bad = _NOT_IN_IRI.search(value)
    if bad is not None:
        raise DataIntegrityError(f"JSON-LD safe mode: {what} {value!r} holds {bad.group()!r}, which no IRI"
                                 " may hold", code=ErrorCode.JSONLD_ERROR, term=value)


# -- RDFC-1.0 canonical N-Quads --------------------------------------------------------------
# pyld 3.3 escapes only \t \n \r " and \\ in literals. RDFC-1.0 (canonical N-Quads, as
# rdf-canonize in jsonld.js and oxigraph write it) also escapes \b and \f, and writes the other
# C0 controls and DEL as upper-case \u00XX; the hashes of the first-degree quads change with it.
_ECHAR = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
_IN_LITERAL = re.compile('[\x00-\x1f\x7f"\\\\]')


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return _ECHAR.get(code) or f"\\u{code:04X}"


def escape_literal(value: str) -> str:
    """A literal's lexical form as canonical N-Quads (RDFC-1.0) write it between the quotes."""
    return _IN_LITERAL.sub(_escape_char, value) if _IN_LITERAL.search(value) else value


def rebound(func: Any, **names: Any) -> Any:
    """pyld's ``func`` itself, with some names of its module replaced (no copy of pyld's code)."""
    for name in names:
        if name not in func.__globals__:
            raise RuntimeError(f"pyld changed: {func.__qualname__} no longer uses {name}")
    out = types.FunctionType(func.__code__, {**func.__globals__, **names}, func.__name__,
                             func.__defaults__, func.__closure__)
    out.__kwdefaults__ = func.__kwdefaults__
    return out


_serialize_nquad = rebound(nquads.serialize_nquad, escape=escape_literal)
pyld_object_to_rdf = rebound(jsonld.JsonLdProcessor._object_to_rdf, _canonicalize_double=js_double)


class Rdfc10(canon.URDNA2015):  # type: ignore[misc]
    """pyld's URDNA2015 (the same algorithm as RDFC-1.0) with RDFC-1.0's canonical N-Quads and
    rdf-canonize's guard against poison graphs.

    The guard (RDFC-1.0 asks for one; rdf-canonize's default, which every jsonld.js verifier
    runs): Hash N-Degree Quads may run, recursion included, as many times as there are blank
    nodes whose first-degree hash is shared, then canonicalization fails. A document past it
    is one that jsonld.js verifiers refuse, and one that would cost exponential time.
    """

    main = rebound(canon.URDNA2015.main, serialize_nquad=_serialize_nquad)
    hash_first_degree_quads = rebound(canon.URDNA2015.hash_first_degree_quads,
                                       serialize_nquad=_serialize_nquad)

    def __init__(self) -> None:
        super().__init__()
        self.deep_limit: int | None = None
        self.deep_left = 0

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        """pyld's Hash N-Degree Quads, counted against the guard."""
        if self.deep_limit is None:  # first call: step 5 is done, only shared hashes remain
            self.deep_limit = self.deep_left = sum(len(ids) for ids in self.hash_to_blank_nodes.values())
        if self.deep_left <= 0:
            raise DataIntegrityError(
                f"RDF canonicalization needs more than {self.deep_limit} Hash N-Degree Quads runs (too"
                " many interchangeable blank nodes: jsonld.js refuses it too)", code=ErrorCode.JSONLD_ERROR)
        self.deep_left -= 1
        return super().hash_n_degree_quads(id_, issuer)

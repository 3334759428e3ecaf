"""Credential templates: an Open Badges 3.0 credential whose string values hold placeholders.

A template is parsed as strict JSON first; then every *string value* (never a key) that holds
``{{ … }}`` / ``{% … %}`` is rendered with Jinja2 in a :class:`~jinja2.sandbox.SandboxedEnvironment`
with :class:`~jinja2.StrictUndefined`, and the result stays that one string: a roster value can
never close a string, add a member or change the JSON structure, and a rendered value is never
rendered again (``{{ 7*7 }}`` in a cell stays those characters). Attributes starting with ``_``
(``''.__class__``) are refused by the sandbox.

Names a template may use: every roster column (normalized, ``table.column_name``) whose cell is
not empty (an empty cell is undefined: ``{{ grade | default('—') }}`` for optional columns), and
``issuer_id`` (the issuer id intake requires), ``row_number``, ``salt`` (a per-row secret value for
``identity_hash``). Filters that check a value's type, naming its column when it is wrong:
``date`` (``YYYY-MM-DD`` or RFC 3339 → ``YYYY-MM-DD``), ``datetime`` (same input → RFC 3339 UTC
``YYYY-MM-DDTHH:MM:SSZ``; a date is midnight UTC), ``email`` (a plausible address, lower-cased
domain), ``identity_hash`` (OB 3.0 ``identityHash``: ``sha256$`` + hex sha256 of value + salt),
``add_years(n)`` (the date n years later, for ``validUntil``).

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from registry.errors import ErrorCode, InputError

BUILTINS = frozenset({"issuer_id", "row_number", "salt"})
MAX_TEMPLATE_BYTES = 256 * 1024
MAX_RENDERED = 16 * 1024  # one rendered string value
_MARKERS = ("{{", "{%", "{#")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_UNDEFINED = re.compile(r"'([^']{1,256})' is undefined")


class Cell(str):
    """A roster cell: a string that knows its column (for the filters' error messages)."""

    column: str

    def __new__(cls, value: str, column: str) -> Cell:
        """A cell of ``column``."""
        obj = super().__new__(cls, value)
        obj.column = column
        return obj


class CellError(Exception):
    """A cell's value does not fit the filter applied to it."""

    def __init__(self, column: str | None, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.code = code
        self.message = message


def _column(value: Any) -> str | None:
    return getattr(value, "column", None)


def parse_when(value: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an RFC 3339 date-time as an aware UTC datetime."""
    s = value.strip()
    try:
        if _DATE.fullmatch(s):
            return datetime.combine(date.fromisoformat(s), datetime.min.time(), UTC)
        m = _DATETIME.fullmatch(s)
        if m:
            frac = (m.group(3) or "")[:7]
            zone = "+00:00" if m.group(4) in ("Z", "z") else m.group(4)
            return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{frac}{zone}").astimezone(UTC)
    except ValueError:
        pass
    raise ValueError(value)


def _date_filter(value: Any) -> str:
    try:
        parse_when(str(value))
    except ValueError:
        raise CellError(
            _column(value),
            ErrorCode.INVALID_CELL,
            f"{str(value)[:80]!r} is not a date (YYYY-MM-DD, or an RFC 3339 date-time)",
        ) from None
    return str(value).strip()[:10]  # the date as written (an offset never moves it to another day)


def _datetime_filter(value: Any) -> str:
    try:
        return parse_when(str(value)).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise CellError(
            _column(value),
            ErrorCode.INVALID_CELL,
            f"{str(value)[:80]!r} is not a date (YYYY-MM-DD, or an RFC 3339 date-time)",
        ) from None


def check_email(value: str) -> str:
    """``value`` as an email address (domain lower-cased); ValueError when it is not one."""
    s = value.strip()
    if len(s) > 254 or not _EMAIL.fullmatch(s) or ".." in s:
        raise ValueError(value)
    local, domain = s.rsplit("@", 1)
    if len(local) > 64:
        raise ValueError(value)
    return f"{local}@{domain.lower()}"


def _email_filter(value: Any) -> str:
    try:
        return check_email(str(value))
    except ValueError:
        raise CellError(
            _column(value), ErrorCode.INVALID_CELL, f"{str(value)[:80]!r} is not an email address"
        ) from None


def _add_years(value: Any, years: int) -> str:
    """The date ``years`` after ``value`` (``YYYY-MM-DD``; 29 February becomes 28 February)."""
    try:
        d = (
            parse_when(str(value)).date()
            if not _DATE.fullmatch(str(value).strip())
            else date.fromisoformat(str(value).strip())
        )
    except ValueError:
        raise CellError(
            _column(value),
            ErrorCode.INVALID_CELL,
            f"{str(value)[:80]!r} is not a date (YYYY-MM-DD, or an RFC 3339 date-time)",
        ) from None
    y = d.year + int(years)
    out = d.replace(year=y) if not (d.month == 2 and d.day == 29) else date(y, 2, 28)
    col = _column(value)
    return Cell(out.isoformat(), col) if col else out.isoformat()


def _identity_hash(value: Any, salt: Any = "") -> str:
    return "sha256$" + hashlib.sha256((str(value) + str(salt)).encode()).hexdigest()


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters.update(
        date=_date_filter,
        datetime=_datetime_filter,
        email=_email_filter,
        identity_hash=_identity_hash,
        add_years=_add_years,
    )
    env.globals.clear()  # no range(), dict(), lipsum…: a template renders values, it computes nothing
    return env


@dataclass
class Template:
    """A parsed, compiled credential template."""

    name: str
    document: dict[str, Any]
    digest: bytes  # sha256 of the template's canonical JSON (JCS)
    names: frozenset[str]  # every name its placeholders use
    _compiled: dict[str, Any]

    def missing_columns(self, columns: list[str]) -> list[str]:
        """Names the template uses that are neither roster columns nor built-ins."""
        return sorted(n for n in self.names if n not in BUILTINS and n not in columns)

    def render(self, cells: Mapping[str, str], **builtins: Any) -> dict[str, Any]:
        """The credential for one row; raises :class:`CellError` naming the column at fault."""
        context: dict[str, Any] = {k: Cell(v, k) for k, v in cells.items() if v != ""}
        context.update(builtins)
        return _walk(self.document, self._compiled, context, frozenset(cells))


def load_template(name: str, data: bytes) -> Template:
    """Parse and compile a template; raises :class:`InputError` (``invalid_template``)."""
    from registry.core.canonical import canonical_bytes, load_document, sha256

    if len(data) > MAX_TEMPLATE_BYTES:
        raise InputError(f"{name}: larger than {MAX_TEMPLATE_BYTES} bytes", code=ErrorCode.INVALID_TEMPLATE)
    try:
        doc = load_document(data, max_bytes=MAX_TEMPLATE_BYTES)
    except InputError as exc:
        raise InputError(
            f"{name}: not a JSON template: {exc.message}", code=ErrorCode.INVALID_TEMPLATE
        ) from None
    if "id" in doc:
        raise InputError(
            f'{name}: remove the top-level "id": every row gets its own credential id',
            code=ErrorCode.INVALID_TEMPLATE,
        )
    if "proof" in doc or "credentialStatus" in doc:
        raise InputError(
            f'{name}: a template has no "proof" or "credentialStatus" (intake adds them)',
            code=ErrorCode.INVALID_TEMPLATE,
        )
    env = _environment()
    compiled: dict[str, Any] = {}
    names: set[str] = set()
    for s in _strings(doc):
        if s in compiled or not any(m in s for m in _MARKERS):
            continue
        try:
            ast = env.parse(s)
            _refuse_private(ast, s)
            names |= meta.find_undeclared_variables(ast)
            compiled[s] = env.from_string(s)
        except TemplateError as exc:
            raise InputError(
                f"{name}: placeholder {s[:120]!r}: {exc}", code=ErrorCode.INVALID_TEMPLATE
            ) from None
    return Template(name, doc, sha256(canonical_bytes(doc)), frozenset(names), compiled)


def _refuse_private(ast: nodes.Node, source: str) -> None:
    """Refuse attribute access to ``_`` names at load time (the sandbox refuses it anyway)."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        key = getattr(node, "arg", None)
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(key, "value", None)
        if isinstance(attr, str) and attr.startswith("_"):
            raise InputError(
                f"placeholder {source[:120]!r} reads {attr!r}: private attributes are refused",
                code=ErrorCode.TEMPLATE_REFUSED,
            )


def _strings(value: Any) -> list[str]:
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


def _walk(
    value: Any, compiled: Mapping[str, Any], context: Mapping[str, Any], columns: frozenset[str]
) -> Any:
    if isinstance(value, str):
        tpl = compiled.get(value)
        return value if tpl is None else _render_one(tpl, context, columns)
    if isinstance(value, dict):
        return {k: _walk(v, compiled, context, columns) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, compiled, context, columns) for v in value]
    return value


def _render_one(tpl: Any, context: Mapping[str, Any], columns: frozenset[str]) -> str:
    try:
        out = str(tpl.render(context))
    except CellError:
        raise
    except UndefinedError as exc:
        m = _UNDEFINED.search(str(exc))
        col = m.group(1) if m else None
        if col is not None and col in columns:
            raise CellError(col, ErrorCode.EMPTY_CELL, "empty (the template needs a value)") from None
        raise CellError(None, ErrorCode.TEMPLATE_REFUSED, f"placeholder refused: {exc}") from None
    except SecurityError as exc:
        raise CellError(None, ErrorCode.TEMPLATE_REFUSED, f"placeholder refused: {exc}") from None
    except (TemplateError, ValueError, TypeError, ArithmeticError) as exc:
        raise CellError(
            None, ErrorCode.TEMPLATE_REFUSED, f"placeholder failed: {type(exc).__name__}: {exc}"
        ) from None
    if len(out) > MAX_RENDERED:
        raise CellError(
            None, ErrorCode.INVALID_CELL, f"a rendered value is longer than {MAX_RENDERED} characters"
        )
    return out

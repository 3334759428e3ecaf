"""Structure checks for W3C VC 2.0, Open Badges 3.0 and CLR 2.0 documents (strict: official schemas).

``validate_credential`` returns what the rest of the system needs (kind, validity window, issuer,
name) or raises :class:`~registry.errors.ValidationError` listing every problem as
``details["errors"] = [{"path": <JSON pointer>, "message": ...}]``.

What a document is, from its ``type`` (never from its contexts alone):

- ``ClrCredential``: a CLR 2.0 credential (kind ``clr2``): a VC 2.0 credential whose
  ``credentialSubject`` is a ``ClrSubject`` with a ``verifiableCredential`` array, each item checked
  as an Open Badges 3.0 credential (errors point into it: ``/credentialSubject/verifiableCredential/0/…``);
- ``OpenBadgeCredential`` / ``AchievementCredential``: Open Badges 3.0 (``ob3``); its contexts must
  then include the OB 3.0 context, with a clear error when they do not;
- otherwise a document with ``@context`` or type ``VerifiableCredential``: W3C VC 2.0 (``vc2``);
- a document whose first context is VC 1.1 (``https://www.w3.org/2018/credentials/v1``) is refused
  (code ``vc1_not_supported``) unless ``allow_vc1``; then it is kind ``vc1``, checked for the
  VC 1.1 members (``issuanceDate`` / ``expirationDate``, which must agree with ``validFrom`` /
  ``validUntil`` when both are given);
- any other JSON object is a ``plain`` document, accepted unless ``strict``.

``strict`` adds, once the structure is right: the official JSON Schemas vendored in
:mod:`registry.core.standards` (OB 3.0 AchievementCredential for ``ob3`` and for each credential in a
CLR, W3C VC 2.0 for every credential; code ``schema_violation``), then JSON-LD expansion in safe
mode over the pinned contexts (code ``undefined_term``, naming the term).

Every date must lie within years 1-9999 once converted to UTC (code ``invalid_date`` otherwise), so
no later comparison or formatting can overflow. Error lists are bounded: at most
:data:`MAX_ERRORS` entries (the last one says how many more there were), each message at most
:data:`MAX_MESSAGE_CHARS` characters.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from registry.errors import ErrorCode, ValidationError

if TYPE_CHECKING:
    from registry.core.dataintegrity.contexts import StaticLoader

__all__ = [
    "CLR2_CONTEXT",
    "OB3_CONTEXT",
    "VC1_CONTEXT",
    "VC2_CONTEXT",
    "MAX_ERRORS",
    "MAX_MESSAGE_CHARS",
    "CredentialInfo",
    "ensure_id",
    "parse_timestamp",
    "validate_credential",
]

VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
_OB3_CONTEXT_RE = re.compile(r"https://purl\.imsglobal\.org/spec/ob/v3p0/context-3\.0\.(\d+)\.json")
_OB3_TYPES = {"OpenBadgeCredential", "AchievementCredential"}
CLR2_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
_CLR_TYPES = {"ClrCredential"}
_TYPED_KINDS = _OB3_TYPES | _CLR_TYPES

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+")
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)

MAX_ERRORS = 20  # entries of details["errors"]; the rest are counted in one more entry
MAX_MESSAGE_CHARS = 300  # per message (and per path)

Kind = Literal["vc2", "ob3", "clr2", "vc1", "plain"]


@dataclass(frozen=True)
class CredentialInfo:
    """What the registry reads from a credential."""

    kind: Kind
    valid_from: datetime | None
    valid_until: datetime | None
    issuer: str | None
    name: str | None


def parse_timestamp(value: Any) -> datetime:
    """Parse a full RFC 3339 date-time with a time zone (``2026-01-01T00:00:00Z``); ValueError if not."""
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 date-time string, got {_kind(value)}")
    m = _TIMESTAMP.fullmatch(value)
    if m is None:
        raise ValueError(f"{value[:60]!r} is not a full RFC 3339 date-time with a time zone"
                         " (like 2026-01-31T09:00:00Z)")
    frac = (m.group(7) or "")[:7].ljust(7, "0") if m.group(7) else ""
    tz = "+00:00" if m.group(8) in ("Z", "z") else m.group(8)
    second = m.group(6)
    if second == "60":  # leap second: RFC 3339 allows it, datetime does not
        second = "59"
    text = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{second}{frac}{tz}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{value[:60]!r} is not a real date-time ({exc})") from None
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise DateRangeError(f"{value[:60]!r} is outside years 1-9999 once converted to UTC") from None
    return parsed


class DateRangeError(ValueError):
    """A well-formed date-time whose offset puts it outside years 1-9999 in UTC."""


def _kind(v: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(v), "a number")


def _types(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [t for t in v if isinstance(t, str)]
    return []


def _contexts(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v] if v is not None else []


def _cut(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class _Errors:
    """Collected problems; keeps the first :data:`MAX_ERRORS`, counts the rest.

    ``at(prefix)`` is a view whose paths start with ``prefix`` (a credential nested in a CLR),
    sharing the one bounded list.
    """

    __slots__ = ("date_range", "items", "more", "prefix", "root")

    def __init__(self, prefix: str = "", root: _Errors | None = None) -> None:
        self.prefix = prefix
        self.root: _Errors = root if root is not None else self
        self.items: list[dict[str, str]] = [] if root is None else root.items
        self.more = 0
        self.date_range = False

    def at(self, prefix: str) -> _Errors:
        """A view adding ``prefix`` before every path."""
        return _Errors(self.prefix + prefix, self.root)

    def add(self, path: str, message: str) -> None:
        """Record one problem at ``path`` (a JSON pointer below this view's prefix)."""
        root = self.root
        if len(root.items) >= MAX_ERRORS:
            root.more += 1
            return
        root.items.append({"path": _cut(self.prefix + path), "message": _cut(message)})

    def listed(self) -> list[dict[str, str]]:
        """The entries, with one more saying how many were left out."""
        root = self.root
        if not root.more:
            return list(root.items)
        return [*root.items, {"path": "", "message": f"and {root.more} more problem(s) not listed"}]


def _esc(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _check_types(errs: _Errors, path: str, value: Any, required: str | set[str] | None) -> None:
    if value is None:
        errs.add(path, "is required")
        return
    if not (isinstance(value, str) or (isinstance(value, list) and value
                                       and all(isinstance(t, str) for t in value))):
        errs.add(path, f"must be a string or a non-empty array of strings, got {_kind(value)}")
        return
    names = set(_types(value))
    if isinstance(required, str) and required not in names:
        errs.add(path, f"must include {required!r}")
    elif isinstance(required, set) and not names & required:
        errs.add(path, "must include one of " + ", ".join(repr(r) for r in sorted(required)))


def _check_url(errs: _Errors, path: str, value: Any, *, required: bool) -> None:
    if value is None:
        if required:
            errs.add(path, "is required")
        return
    if not isinstance(value, str) or not _URL.fullmatch(value):
        errs.add(path, f"must be a URL (like https://… or urn:uuid:…), got {str(value)[:60]!r}")


def _check_string(errs: _Errors, path: str, value: Any, *, required: bool) -> None:
    if value is None:
        if required:
            errs.add(path, "is required")
        return
    if isinstance(value, str):
        if not value.strip():
            errs.add(path, "must not be empty")
        return
    if _language_values(value):
        return
    errs.add(path, f"must be a string or language value objects, got {_kind(value)}")


def _language_values(value: Any) -> list[str]:
    """Strings of a VC 2.0 language value object (``{"@value", "@language"}``) or array of them."""
    items = value if isinstance(value, list) else [value]
    out = [i.get("@value") for i in items if isinstance(i, Mapping)]
    strings = [s for s in out if isinstance(s, str)]
    return strings if items and len(strings) == len(items) else []


def _display(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    values = _language_values(value)
    return values[0] if values else None


def _issuer_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _check_time(errs: _Errors, doc: Mapping[str, Any], key: str, *, required: bool) -> datetime | None:
    if key not in doc:
        if required:
            errs.add("/" + key, "is required")
        return None
    try:
        return parse_timestamp(doc[key])
    except DateRangeError as exc:
        errs.root.date_range = True
        errs.add("/" + key, str(exc))
        return None
    except ValueError as exc:
        errs.add("/" + key, str(exc))
        return None


def _check_window(errs: _Errors, vf: datetime | None, vu: datetime | None,
                  names: tuple[str, str] = ("validFrom", "validUntil")) -> None:
    if vf is not None and vu is not None and vf > vu:
        errs.add("/" + names[1], f"is before {names[0]} ({vu.isoformat()} < {vf.isoformat()})")


def _merge_date(errs: _Errors, doc: Mapping[str, Any], v2: datetime | None, v1_key: str,
                v2_key: str) -> datetime | None:
    """A VC 1.1 date (``issuanceDate``/``expirationDate``) merged with its VC 2.0 twin."""
    v1 = _check_time(errs, doc, v1_key, required=False)
    if v1 is not None and v2 is not None and v1 != v2:
        errs.add("/" + v1_key, f"disagrees with {v2_key} ({doc[v1_key]!s:.40} vs {doc[v2_key]!s:.40}):"
                 " give one date, or the same date in both")
    return v2 if v2 is not None else v1


def _dates(errs: _Errors, doc: Mapping[str, Any], *, vc1: bool,
           from_required: bool) -> tuple[datetime | None, datetime | None]:
    """The validity window: VC 2.0 fields, and for a VC 1.1 credential its own fields too."""
    vf = _check_time(errs, doc, "validFrom", required=from_required and not vc1)
    vu = _check_time(errs, doc, "validUntil", required=False)
    if vc1:
        vf = _merge_date(errs, doc, vf, "issuanceDate", "validFrom")
        vu = _merge_date(errs, doc, vu, "expirationDate", "validUntil")
        start = "issuanceDate" if "validFrom" not in doc else "validFrom"
        end = "expirationDate" if "validUntil" not in doc else "validUntil"
        _check_window(errs, vf, vu, (start, end))
    else:
        _check_window(errs, vf, vu)
    return vf, vu


def _check_contexts(errs: _Errors, doc: Mapping[str, Any], kind: Kind) -> None:
    raw = doc.get("@context")
    if raw is None:
        errs.add("/@context", f"is required; its first item must be {VC2_CONTEXT!r}")
        return
    if not isinstance(raw, list | str):
        errs.add("/@context", f"must be an array of URLs and objects, got {_kind(raw)}")
        return
    ctx = _contexts(raw)
    if not ctx or ctx[0] != VC2_CONTEXT:
        found = f" (found {str(ctx[0])[:80]!r})" if ctx else ""
        errs.add("/@context/0", f"must be {VC2_CONTEXT!r}{found}")
    for i, c in enumerate(ctx):
        if not (isinstance(c, str) and _URL.fullmatch(c)) and not isinstance(c, Mapping):
            errs.add(f"/@context/{i}", f"must be a URL or an object, got {_kind(c)}")
    if kind == "ob3":
        _check_ob3_context(errs, ctx)
    elif kind == "clr2" and CLR2_CONTEXT not in ctx[1:]:
        errs.add("/@context", f"must include {CLR2_CONTEXT!r} after {VC2_CONTEXT!r}: a credential"
                 " typed ClrCredential is a CLR 2.0 credential")


def _check_ob3_context(errs: _Errors, ctx: list[Any]) -> None:
    second = ctx[1] if len(ctx) > 1 else None
    m = _OB3_CONTEXT_RE.fullmatch(second) if isinstance(second, str) else None
    if m is None or int(m.group(1)) < 3:
        others = [i for i, c in enumerate(ctx) if isinstance(c, str) and _OB3_CONTEXT_RE.fullmatch(c)]
        hint = f" (found at position {others[0]})" if others else " (it is missing)"
        errs.add("/@context/1", f"must be {OB3_CONTEXT!r}: a credential typed OpenBadgeCredential or"
                 f" AchievementCredential is an Open Badges 3.0 credential{hint}")


def _check_issuer(errs: _Errors, doc: Mapping[str, Any], profile: bool) -> None:
    iss = doc.get("issuer")
    if iss is None:
        errs.add("/issuer", "is required")
    elif isinstance(iss, str):
        _check_url(errs, "/issuer", iss, required=True)
        if profile:
            errs.add("/issuer", "must be a Profile object with id and type in Open Badges 3.0 and CLR 2.0")
    elif isinstance(iss, Mapping):
        _check_url(errs, "/issuer/id", iss.get("id"), required=True)
        if profile:
            _check_types(errs, "/issuer/type", iss.get("type"), "Profile")
        if "name" in iss:
            _check_string(errs, "/issuer/name", iss.get("name"), required=False)
    else:
        errs.add("/issuer", f"must be a URL or an object with an id, got {_kind(iss)}")


def _check_achievement(errs: _Errors, path: str, ach: Any) -> None:
    if ach is None:
        errs.add(path, "is required")
        return
    if not isinstance(ach, Mapping):
        errs.add(path, f"must be an Achievement object, got {_kind(ach)}")
        return
    _check_url(errs, path + "/id", ach.get("id"), required=True)
    _check_types(errs, path + "/type", ach.get("type"), "Achievement")
    _check_string(errs, path + "/name", ach.get("name"), required=True)
    _check_string(errs, path + "/description", ach.get("description"), required=True)
    crit = ach.get("criteria")
    if crit is None:
        errs.add(path + "/criteria", "is required")
    elif not isinstance(crit, Mapping):
        errs.add(path + "/criteria", f"must be an object, got {_kind(crit)}")
    elif "id" not in crit and "narrative" not in crit:
        errs.add(path + "/criteria", "must have an id or a narrative")
    else:
        _check_url(errs, path + "/criteria/id", crit.get("id"), required=False)
        _check_string(errs, path + "/criteria/narrative", crit.get("narrative"), required=False)


def _check_subject(errs: _Errors, doc: Mapping[str, Any], kind: Kind) -> None:
    subj = doc.get("credentialSubject")
    if subj is None:
        errs.add("/credentialSubject", "is required")
        return
    if kind in ("ob3", "clr2"):
        if not isinstance(subj, Mapping):
            what = "AchievementSubject" if kind == "ob3" else "ClrSubject"
            errs.add("/credentialSubject", f"must be one {what} object, got {_kind(subj)}")
            return
        subjects: list[tuple[str, Any]] = [("/credentialSubject", subj)]
    elif isinstance(subj, list):
        if not subj:
            errs.add("/credentialSubject", "must not be an empty array")
        subjects = [(f"/credentialSubject/{i}", s) for i, s in enumerate(subj)]
    else:
        subjects = [("/credentialSubject", subj)]
    for path, s in subjects:
        if not isinstance(s, Mapping):
            errs.add(path, f"must be an object, got {_kind(s)}")
            continue
        if not s:
            errs.add(path, "must make at least one claim")
        if "id" in s:
            _check_url(errs, path + "/id", s.get("id"), required=True)
        if kind == "ob3":
            _check_types(errs, path + "/type", s.get("type"), "AchievementSubject")
            if "id" not in s and not s.get("identifier"):
                errs.add(path, "needs an id or at least one identifier")
            _check_achievement(errs, path + "/achievement", s.get("achievement"))
        elif kind == "clr2":
            _check_clr_subject(errs, path, s)


def _check_clr_subject(errs: _Errors, path: str, s: Mapping[str, Any]) -> None:
    """A ``ClrSubject``: its credentials (each an OB 3.0 credential), achievements, associations."""
    _check_types(errs, path + "/type", s.get("type"), "ClrSubject")
    creds = s.get("verifiableCredential")
    if not isinstance(creds, list) or not creds:
        got = "is required" if creds is None else f"must be a non-empty array, got {_kind(creds)}"
        errs.add(path + "/verifiableCredential", got + " (the AchievementCredentials of this CLR)")
    else:
        for i, cred in enumerate(creds):
            here = errs.at(f"{path}/verifiableCredential/{i}")
            if not isinstance(cred, Mapping):
                here.add("", f"must be an AchievementCredential object, got {_kind(cred)}")
            else:
                _check_credential(here, cred, "ob3")
    for key, check in (("achievement", _check_achievement), ("association", _check_association)):
        if key not in s:
            continue
        items = s[key]
        if not isinstance(items, list):
            errs.add(f"{path}/{key}", f"must be an array, got {_kind(items)}")
            continue
        for i, item in enumerate(items):
            check(errs, f"{path}/{key}/{i}", item)


def _check_association(errs: _Errors, path: str, assoc: Any) -> None:
    if not isinstance(assoc, Mapping):
        errs.add(path, f"must be an Association object, got {_kind(assoc)}")
        return
    _check_types(errs, path + "/type", assoc.get("type"), "Association")
    if not isinstance(assoc.get("associationType"), str):
        errs.add(path + "/associationType", "is required (a string such as 'isParentOf')")
    _check_url(errs, path + "/sourceId", assoc.get("sourceId"), required=True)
    _check_url(errs, path + "/targetId", assoc.get("targetId"), required=True)


def _check_status_like(errs: _Errors, doc: Mapping[str, Any], key: str) -> None:
    if key not in doc:
        return
    value = doc[key]
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items):
        path = f"/{key}/{i}" if isinstance(value, list) else f"/{key}"
        if not isinstance(item, Mapping):
            errs.add(path, f"must be an object, got {_kind(item)}")
        elif "type" not in item:
            errs.add(path + "/type", "is required")


def _claims_to_be_credential(doc: Mapping[str, Any]) -> bool:
    types = set(_types(doc.get("type")))
    return "@context" in doc or "VerifiableCredential" in types or bool(types & _TYPED_KINDS)


def _kind_of(doc: Mapping[str, Any]) -> Kind:
    """``clr2`` / ``ob3`` by type (a CLR names OB 3.0 contexts too), else ``vc2``."""
    types = set(_types(doc.get("type")))
    if types & _CLR_TYPES:
        return "clr2"
    return "ob3" if types & _OB3_TYPES else "vc2"


def _check_credential(errs: _Errors, doc: Mapping[str, Any],
                      kind: Kind) -> tuple[datetime | None, datetime | None]:
    """Everything VC 2.0 requires, and OB 3.0 / CLR 2.0 for those kinds; the validity window."""
    named = kind in ("ob3", "clr2")
    _check_contexts(errs, doc, kind)
    _check_types(errs, "/type", doc.get("type"), "VerifiableCredential")
    if kind == "ob3":
        _check_types(errs, "/type", doc.get("type"), _OB3_TYPES)
    if "id" in doc:
        _check_url(errs, "/id", doc.get("id"), required=True)
    _check_issuer(errs, doc, profile=named)
    _check_subject(errs, doc, kind)
    _check_string(errs, "/name", doc.get("name"), required=named)
    if "description" in doc:
        _check_string(errs, "/description", doc.get("description"), required=False)
    vf, vu = _dates(errs, doc, vc1=False, from_required=named)
    for key in ("credentialStatus", "credentialSchema", "termsOfUse", "evidence", "refreshService"):
        _check_status_like(errs, doc, key)
    return vf, vu


def _check_vc1(errs: _Errors, doc: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """A VC 1.1 credential (allowed by flag): type, issuer, subject, issuanceDate; the window."""
    _check_types(errs, "/type", doc.get("type"), "VerifiableCredential")
    _check_issuer(errs, doc, profile=False)
    if doc.get("credentialSubject") is None:
        errs.add("/credentialSubject", "is required")
    if "issuanceDate" not in doc and "validFrom" not in doc:
        errs.add("/issuanceDate", "is required in a VC 1.1 credential")
    return _dates(errs, doc, vc1=True, from_required=False)


_WHAT: dict[str, str] = {"vc2": "W3C VC 2.0 credential", "ob3": "Open Badges 3.0 credential",
                         "clr2": "CLR 2.0 credential", "vc1": "VC 1.1 credential",
                         "plain": "plain document"}


def validate_credential(doc: Mapping[str, Any], *, strict: bool = False, allow_vc1: bool = False,
                        will_add_id: bool = False, loader: StaticLoader | None = None) -> CredentialInfo:
    """Check a VC 2.0 / Open Badges 3.0 / CLR 2.0 document; plain JSON objects pass unless ``strict``.

    ``allow_vc1``: accept VC 1.1 credentials (else ``vc1_not_supported``). ``strict``: also the
    official JSON Schemas and JSON-LD safe-mode expansion (see the module docstring).
    ``will_add_id``: the caller adds an ``id`` to a document without one (intake does, for unsigned
    input), so the schemas' required ``id`` is checked as it will be anchored. ``loader``: the
    :class:`~registry.core.dataintegrity.contexts.StaticLoader` for strict mode (default: the pinned
    contexts; a context it does not hold is refused with ``unknown_context``).
    """
    if not isinstance(doc, Mapping):
        raise ValidationError(f"a credential must be a JSON object, got {_kind(doc)}",
                              errors=[{"path": "", "message": "must be an object"}])
    errs = _Errors()
    ctx = _contexts(doc.get("@context"))
    kind: Kind
    if ctx and ctx[0] == VC1_CONTEXT:
        if not allow_vc1:
            _refuse_vc1()
        kind = "vc1"
        vf, vu = _check_vc1(errs, doc)
    elif not strict and not _claims_to_be_credential(doc):
        kind = "plain"
        vf, vu = _dates(errs, doc, vc1=False, from_required=False)
    else:  # a credential, or strict mode: everything its kind requires
        kind = _kind_of(doc)
        vf, vu = _check_credential(errs, doc, kind)
    _raise(errs, _WHAT[kind])
    if strict and kind in ("vc2", "ob3", "clr2"):
        _strict(doc, kind, will_add_id=will_add_id, loader=loader)
    return CredentialInfo(kind, vf, vu, _issuer_id(doc.get("issuer")), _display(doc.get("name")))


def _refuse_vc1() -> None:
    raise ValidationError(
        "/@context/0: VC 1.1 credentials (first context https://www.w3.org/2018/credentials/v1) are not"
        f" supported: upgrade the document to VC 2.0 (first context {VC2_CONTEXT}, validFrom /"
        " validUntil instead of issuanceDate / expirationDate), or accept VC 1.1 explicitly"
        " (registry issue --allow-vc1, REGISTRY_ALLOW_VC1=true)",
        code=ErrorCode.VC1_NOT_SUPPORTED,
        errors=[{"path": "/@context/0", "message": f"must be {VC2_CONTEXT!r} (VC 1.1 is refused"
                 " unless allowed explicitly)"}])


def _strict(doc: Mapping[str, Any], kind: Kind, *, will_add_id: bool, loader: StaticLoader | None) -> None:
    """The official schemas, then JSON-LD safe mode; raises the first failing stage's problems."""
    from registry.core.standards import strict_problems

    stage, problems = strict_problems(doc, kind, will_add_id=will_add_id, loader=loader)
    errs = _Errors()
    for path, message in problems:
        errs.add(path, message)
    if stage == "schema":
        _raise(errs, f"{_WHAT[kind]} under the official JSON Schemas", code=ErrorCode.SCHEMA_VIOLATION)
    _raise(errs, f"{_WHAT[kind]} in JSON-LD safe mode", code=ErrorCode.UNDEFINED_TERM)


def _raise(errs: _Errors, what: str, code: str | None = None) -> None:
    """Raise the collected problems (code ``invalid_date`` when a date is out of range in UTC)."""
    if not errs.items:
        return
    listed = errs.listed()
    lines = "; ".join(f"{e['path'] or '(document)'}: {e['message']}" for e in listed)
    if code is None and errs.date_range:
        code = ErrorCode.INVALID_DATE
    raise ValidationError(f"not a valid {what}: {lines}", code=code, errors=listed)


def ensure_id(doc: Mapping[str, Any], *,
              make_id: Callable[[], str] | None = None) -> tuple[dict[str, Any], bool]:
    """``(doc, False)`` when it has an ``id``; else a copy with ``id: urn:uuid:<uuid4>`` and True.

    The random id is the credential's entropy: nobody can confirm a guessed credential by hashing
    it against the public digests.
    """
    if "id" in doc:
        value = doc["id"]
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"id must be a non-empty string, got {_kind(value)}",
                                  errors=[{"path": "/id", "message": "must be a non-empty string"}])
        return dict(doc), False
    new_id = make_id() if make_id is not None else f"urn:uuid:{uuid.uuid4()}"
    out = {"id": new_id}
    out.update({k: v for k, v in doc.items()})
    return out, True

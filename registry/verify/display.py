"""What a credential document says, for people: a bounded, plain-text summary of it.

Pure (no I/O, never raises on any parsed JSON). Open Badges 3.0 fields first (the subject's
``achievement``, ``result``, ``creditsEarned``, ``identifier``), the component achievements of a
CLR 2.0 credential, and for any other VC or plain JSON the subject's other scalar fields.

Every value is text: numbers and booleans are written out, a language map or value object
gives its first value, markup is never interpreted (``<script>`` stays those characters; the page
and the CLI print text, never HTML), control, zero-width and bidi-override characters are
dropped, and every value, every list and the number of fields are bounded. This is the
document's word, not the registry's: the issuer the registry records is the result's ``issuer``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from registry.verify.result import AchievementSummary, CredentialSummary, FieldSummary

MAX_SHORT = 300  # names, types, identifiers, dates, field values
MAX_LONG = 2000  # descriptions and criteria narratives
MAX_URL = 2048  # an image URL (longer ones are left out, not cut)
MAX_RESULTS = 20
MAX_FIELDS = 30
MAX_COMPONENTS = 50
MAX_DEPTH = 3  # nesting of the fallback fields

_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_HTTP_URL = re.compile(r"https?://[^\s\"'<>\\]+", re.I)
_OB3_TYPES = frozenset({"OpenBadgeCredential", "AchievementCredential"})
_CLR_TYPES = frozenset({"ClrCredential"})
_GENERIC_TYPES = frozenset({"Achievement", "VerifiableCredential", "AchievementSubject", "ClrSubject"})
_SHOWN_SUBJECT = frozenset({"id", "type", "name", "identifier", "result", "achievement", "creditsEarned"})
_SHOWN_ACHIEVEMENT = frozenset(
    {"id", "type", "name", "description", "criteria", "image", "achievementType", "creditsAvailable"}
)
_SKIP_TOP = frozenset({"@context", "proof"})


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit].rstrip() + "…"


def text(value: Any, limit: int = MAX_SHORT) -> str | None:
    """``value`` as bounded plain text (None when it holds none)."""
    if isinstance(value, bool):
        raw = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        raw = str(int(value))
    elif isinstance(value, int | float):
        try:
            raw = str(value)
        except ValueError:  # an int too long to write out
            return None
    elif isinstance(value, str):
        raw = value[: limit * 4]  # bound the work before cleaning
    elif isinstance(value, Mapping):
        return text(value.get("@value"), limit) if "@value" in value else None
    elif isinstance(value, list):
        return next((t for t in (text(v, limit) for v in value[:5]) if t is not None), None)
    else:
        return None
    cleaned = _INVISIBLE.sub("", raw).strip()
    return _clip(cleaned, limit) if cleaned else None


def _url(value: Any) -> str | None:
    """An http(s) image URL (a string or an object's ``id``), else None (data: URIs included)."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if not isinstance(value, str) or len(value) > MAX_URL:
        return None
    return value if _HTTP_URL.fullmatch(value) and not _INVISIBLE.search(value) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if an object, else the first object of a list, else an empty one."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list):
        return next((v for v in value[:5] if isinstance(v, Mapping)), {})
    return {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, Mapping)]


def _types(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {v for v in items[:20] if isinstance(v, str)}


def kind_of(doc: Mapping[str, Any]) -> str:
    """``clr2``, ``ob3``, ``vc`` (any other Verifiable Credential) or ``plain``."""
    types = _types(doc.get("type"))
    if types & _CLR_TYPES:
        return "clr2"
    if types & _OB3_TYPES:
        return "ob3"
    if "VerifiableCredential" in types or "@context" in doc:
        return "vc"
    return "plain"


def _recipient(subject: Mapping[str, Any]) -> str | None:
    """The subject's name, else an unhashed OB 3.0 identifier (a name first)."""
    name = text(subject.get("name"))
    if name is not None:
        return name
    plain = [i for i in _objects(subject.get("identifier"))[:20] if i.get("hashed") is False]
    plain.sort(key=lambda i: i.get("identityType") != "name")
    return next((t for t in (text(i.get("identityHash")) for i in plain) if t is not None), None)


def _criteria(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return text(value.get("narrative"), MAX_LONG) or text(value.get("id"))
    return text(value, MAX_LONG)


def _credits(subject: Mapping[str, Any], achievement: Mapping[str, Any]) -> str | None:
    earned, available = text(subject.get("creditsEarned")), text(achievement.get("creditsAvailable"))
    if earned and available:
        return f"{earned} (of {available} available)"
    return earned or (f"{available} available" if available else None)


def _type_words(achievement: Mapping[str, Any]) -> str | None:
    declared = text(achievement.get("achievementType"))
    if declared:
        return declared
    words = sorted(_types(achievement.get("type")) - _GENERIC_TYPES)
    return text(", ".join(words)) if words else None


def achievement_summary(
    achievement: Mapping[str, Any], subject: Mapping[str, Any] | None = None
) -> AchievementSummary:
    """An OB 3.0 ``Achievement`` (with the subject's credits earned, when given)."""
    creator = achievement.get("creator")
    return AchievementSummary(
        name=text(achievement.get("name")),
        description=text(achievement.get("description"), MAX_LONG),
        criteria=_criteria(achievement.get("criteria")),
        type=_type_words(achievement),
        credits=_credits(subject or {}, achievement),
        image=_url(achievement.get("image")),
        issuer=text(creator.get("name")) if isinstance(creator, Mapping) else None,
    )


def _result_labels(achievement: Mapping[str, Any]) -> dict[str, str]:
    """OB 3.0 ``resultDescription`` ids to their names (or result types)."""
    labels: dict[str, str] = {}
    for rd in _objects(achievement.get("resultDescription"))[:MAX_RESULTS]:
        rid, label = rd.get("id"), text(rd.get("name")) or text(rd.get("resultType"))
        if isinstance(rid, str) and label:
            labels[rid] = label
    return labels


def results(subject: Mapping[str, Any], achievement: Mapping[str, Any]) -> list[str]:
    """The subject's OB 3.0 results as "label: value" lines (bounded)."""
    labels = _result_labels(achievement)
    out: list[str] = []
    for r in _objects(subject.get("result"))[:MAX_RESULTS]:
        value = text(r.get("value")) or text(r.get("achievedLevel"))
        status = text(r.get("status"))
        value = f"{value} ({status})" if value and status else value or status
        if value is None:
            continue
        rd = r.get("resultDescription")
        label = labels.get(rd) if isinstance(rd, str) else None
        out.append(text(f"{label or 'Result'}: {value}") or value)
    return out


def _leaves(value: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    """(path, text) of the scalar leaves under ``value``; a list of scalars is one leaf."""
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return
        for key in list(value)[: MAX_FIELDS * 2]:
            label = str(key) if not path else f"{path}.{key}"
            yield from _leaves(value[key], label, depth + 1)
    elif isinstance(value, list):
        scalars = [v for v in value[:MAX_FIELDS] if not isinstance(v, Mapping | list)]
        words = [t for t in map(text, scalars) if t is not None]
        if words:
            yield path, ", ".join(words)
        for i, item in enumerate(v for v in value[:5] if isinstance(v, Mapping)):
            yield from _leaves(item, f"{path}[{i}]", depth + 1)
    else:
        t = text(value)
        if t is not None:
            yield path, t


def other_fields(subject: Mapping[str, Any], skip: frozenset[str]) -> list[FieldSummary]:
    """The subject's scalar fields not shown elsewhere, as label and text (bounded)."""
    out: list[FieldSummary] = []
    for key in list(subject)[: MAX_FIELDS * 2]:
        if key in skip:
            continue
        value = subject[key]
        if key == "achievement" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k not in _SHOWN_ACHIEVEMENT}
        for label, words in _leaves(value, str(key), 0):
            out.append(FieldSummary(label=_clip(label, MAX_SHORT), value=text(words) or words))
            if len(out) >= MAX_FIELDS:
                return out
    return out


def components(subject: Mapping[str, Any]) -> tuple[list[AchievementSummary], int]:
    """A CLR 2.0 subject's component achievements (its own list, then each embedded credential's),
    at most :data:`MAX_COMPONENTS`, and how many more there were."""
    found: list[tuple[Mapping[str, Any], Mapping[str, Any] | None]] = [
        (a, None) for a in _objects(subject.get("achievement"))
    ]
    for vc in _objects(subject.get("verifiableCredential")):
        inner = _mapping(vc.get("credentialSubject"))
        found.extend((a, inner) for a in _objects(inner.get("achievement")))
    shown = [achievement_summary(a, s) for a, s in found[:MAX_COMPONENTS]]
    return shown, max(0, len(found) - MAX_COMPONENTS)


def _issuer(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, Mapping):
        return text(value.get("id")), text(value.get("name"))
    return text(value), None


def summarize(doc: Mapping[str, Any]) -> CredentialSummary:
    """The display summary of a credential document (without its anchor proof)."""
    kind = kind_of(doc)
    has_subject = "credentialSubject" in doc
    subject = _mapping(doc.get("credentialSubject")) if has_subject else doc
    issuer_id, issuer_name = _issuer(doc.get("issuer"))
    achievement: AchievementSummary | None = None
    result_lines: list[str] = []
    parts: list[AchievementSummary] = []
    omitted = 0
    if kind == "clr2":
        parts, omitted = components(subject)
    elif isinstance(subject.get("achievement"), Mapping):
        raw = subject["achievement"]
        achievement = achievement_summary(raw, subject)
        result_lines = results(subject, raw)
    shown = _SHOWN_SUBJECT | {"verifiableCredential", "association"} if kind == "clr2" else _SHOWN_SUBJECT
    shown = shown - {"achievement"}  # its other fields are listed (those the summary shows are not)
    skip = shown if has_subject else shown | _SKIP_TOP | {"issuer", "validFrom", "validUntil", "description"}
    return CredentialSummary(
        kind=kind,
        name=text(doc.get("name")),
        description=text(doc.get("description"), MAX_LONG),
        recipient=_recipient(subject) if has_subject else None,
        recipient_id=text(subject.get("id")) if has_subject else None,
        achievement=achievement,
        results=result_lines,
        components=parts,
        components_omitted=omitted,
        issuer_id=issuer_id,
        issuer_name=issuer_name,
        valid_from=text(doc.get("validFrom")) or text(doc.get("issuanceDate")),
        valid_until=text(doc.get("validUntil")) or text(doc.get("expirationDate")),
        awarded=text(doc.get("awardedDate")),
        fields=[] if kind in ("ob3", "clr2") else other_fields(subject, skip),
    )

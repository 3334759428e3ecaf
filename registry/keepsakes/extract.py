"""The credential inside an uploaded file: a PDF attachment, a baked PNG or SVG, or the JSON itself.

:func:`extract_credential` looks at the first bytes: ``%PDF-`` is a PDF, the PNG signature a PNG,
``<`` with an ``<svg`` tag near the start an SVG; anything else is passed on unchanged (a JSON
document, or bytes the JSON checks reject with their usual error). The work is bounded for anonymous uploads:

- PDF (pypdf, with its decoding limits lowered): at most ``pdf_max_objects`` objects, a name tree
  of at most ``max_attachments`` attached files, each stream decoded to at most
  ``max_credential_bytes``; encrypted PDFs are refused. The credential is the attached file named
  ``*.json``/``*.jsonld`` or typed JSON (``application/vc+ld+json``, ``application/vc``, ...);
  two different ones are ambiguous (an error, never a silent pick).
- PNG: chunks walked and CRC-checked; one ``iTXt`` ``openbadgecredential`` chunk (a compressed
  one is inflated to at most ``max_credential_bytes``); two are ambiguous.
- SVG: parsed by defusedxml with DTDs, entities and external references forbidden (no XXE, no
  entity expansion); one ``<openbadges:credential>`` element; two are ambiguous.

Errors are ``InputError`` with a stable code (HTTP 422, CLI exit 2).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from xml.etree.ElementTree import Element

from registry.errors import ErrorCode, InputError

Kind = Literal["json", "pdf", "png", "svg"]
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
OB2_NAMESPACE = "https://w3id.org/openbadges/v2"
_JSON_TYPES = ("json",)  # a subtype containing it: application/json, application/vc+ld+json, ...
_VC_TYPES = ("application/vc", "application/vp")


@dataclass(frozen=True)
class Limits:
    """Caps on the work one upload may cause."""

    max_credential_bytes: int = 1024 * 1024
    max_attachments: int = 16
    pdf_max_objects: int = 5000
    png_max_chunks: int = 10_000
    name_tree_max_nodes: int = 64
    name_tree_max_depth: int = 8


@dataclass(frozen=True)
class Extracted:
    """The credential bytes and the file they came from."""

    data: bytes
    kind: Kind
    where: str | None = None  # the attachment's name, the chunk or the element

    def source(self) -> dict[str, str] | None:
        """What a verification result says about where the credential came from (None for JSON)."""
        if self.kind == "json":
            return None
        words = {
            "pdf": f"the credential attached to the PDF as {self.where}",
            "png": "the credential baked into the PNG image (iTXt chunk openbadgecredential)",
            "svg": "the credential baked into the SVG image (element openbadges:credential)",
        }[self.kind]
        out = {"kind": self.kind, "note": f"Checked {words}."}
        if self.where:
            out["embedded"] = self.where
        return out


def _error(message: str, code: ErrorCode) -> InputError:
    return InputError(message, code=code)


def sniff(data: bytes) -> Kind:
    """What the bytes are: pdf, png, svg (any XML) or json (everything else)."""
    from registry.keepsakes.badge import PNG_SIGNATURE

    if data.startswith(PNG_SIGNATURE):
        return "png"
    if b"%PDF-" in data[:1024]:  # a PDF header may follow some junk (ISO 32000, 7.5.2 note)
        return "pdf"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "svg" if head.startswith(b"<") and b"<svg" in data[:8192] else "json"


def extract_credential(data: bytes, limits: Limits | None = None) -> Extracted:
    """The credential carried by ``data`` (a PDF, a baked PNG or SVG, else the bytes themselves)."""
    lim = limits or Limits()
    kind = sniff(data)
    if kind == "pdf":
        name, found = _from_pdf(data, lim)
        return Extracted(found, "pdf", name)
    if kind == "png":
        return Extracted(_from_png(data, lim), "png", "iTXt openbadgecredential")
    if kind == "svg":
        return Extracted(_from_svg(data), "svg", "openbadges:credential")
    return Extracted(data, "json")


def _no_jwt(text: bytes, where: str) -> bytes:
    stripped = text.strip()
    if stripped.startswith(b"ey") and stripped.count(b".") == 2:
        raise _error(f"the {where} holds a VC-JWT (compact JWS): only credentials with embedded "
                     "proofs (JSON) are verified here", ErrorCode.VC_JWT_NOT_SUPPORTED)
    return stripped


# -- PNG --------------------------------------------------------------------------------------


def _inflate(data: bytes, cap: int, what: str) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, cap + 1)
    except zlib.error:
        raise _error(f"the {what} is not valid zlib data", ErrorCode.CONTAINER_MALFORMED) from None
    if len(out) > cap or d.unconsumed_tail:
        raise _error(f"the {what} inflates to more than {cap} bytes", ErrorCode.CONTAINER_TOO_LARGE)
    return out


def _itxt(body: bytes, cap: int) -> bytes:
    """The text of one ``openbadgecredential`` iTXt chunk body."""
    keyword, _, rest = body.partition(b"\x00")
    if len(rest) < 2:
        raise _error("the PNG's openbadgecredential chunk is cut short", ErrorCode.CONTAINER_MALFORMED)
    flag, method, rest = rest[0], rest[1], rest[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) != 3:
        raise _error("the PNG's openbadgecredential chunk is malformed", ErrorCode.CONTAINER_MALFORMED)
    text = parts[2]
    if flag == 1:
        if method != 0:
            raise _error("unknown iTXt compression method", ErrorCode.CONTAINER_MALFORMED)
        text = _inflate(text, cap, "PNG's openbadgecredential chunk")
    return text


def _from_png(data: bytes, lim: Limits) -> bytes:
    from registry.keepsakes.badge import KEYWORD, png_chunks

    chunks = png_chunks(data, most=lim.png_max_chunks)
    found = [b for k, b in chunks if k == b"iTXt" and b.startswith(KEYWORD + b"\x00")]
    if not found:
        ob2 = any(k in (b"iTXt", b"tEXt") and b.startswith(b"openbadges\x00") for k, b in chunks)
        raise _error(
            "the PNG carries an Open Badges 2.0 assertion, not an OB 3.0 credential" if ob2
            else "the PNG carries no Open Badges credential (no iTXt chunk openbadgecredential)",
            ErrorCode.NO_EMBEDDED_CREDENTIAL,
        )
    if len(found) > 1:
        raise _error(f"the PNG has {len(found)} openbadgecredential chunks (OB 3.0 allows one): "
                     "ambiguous", ErrorCode.AMBIGUOUS_EMBEDDED_CREDENTIAL)
    text = _itxt(found[0], lim.max_credential_bytes)
    return _no_jwt(text, "PNG's openbadgecredential chunk")


# -- SVG --------------------------------------------------------------------------------------


def parse_svg(data: bytes) -> Element:
    """The root element of an XML document parsed with DTDs, entities and external references
    forbidden (defusedxml); ``InputError`` for unsafe or malformed XML."""
    from xml.etree.ElementTree import ParseError

    import defusedxml
    import defusedxml.ElementTree as SafeET

    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise _error(f"the SVG uses a DTD or entities, which are refused ({type(exc).__name__})",
                     ErrorCode.UNSAFE_XML) from None
    except ParseError as exc:
        raise _error(f"the file is not well-formed XML ({exc})", ErrorCode.CONTAINER_MALFORMED) from None
    return root


def _from_svg(data: bytes) -> bytes:
    root = parse_svg(data)
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        raise _error("the file is XML but not an SVG image", ErrorCode.CONTAINER_MALFORMED)
    found = root.findall(f".//{{{OB_NAMESPACE}}}credential")
    if not found:
        ob2 = root.find(f".//{{{OB2_NAMESPACE}}}assertion") is not None
        raise _error(
            "the SVG carries an Open Badges 2.0 assertion, not an OB 3.0 credential" if ob2
            else "the SVG carries no Open Badges credential (no openbadges:credential element)",
            ErrorCode.NO_EMBEDDED_CREDENTIAL,
        )
    if len(found) > 1:
        raise _error(f"the SVG has {len(found)} openbadges:credential elements (OB 3.0 allows one): "
                     "ambiguous", ErrorCode.AMBIGUOUS_EMBEDDED_CREDENTIAL)
    element = found[0]
    if element.get("verify"):
        _no_jwt(element.get("verify", "").encode(), "SVG's openbadges:credential element")
    return _no_jwt((element.text or "").encode("utf-8"), "SVG's openbadges:credential element")


# -- PDF --------------------------------------------------------------------------------------


def _pdf_limits(lim: Limits) -> dict[str, int]:
    cap = lim.max_credential_bytes
    return {
        "zlib_maximum_output_length": cap,
        "lzw_maximum_output_length": cap,
        "run_length_maximum_output_length": cap,
        "jbig2_maximum_output_length": cap,
        "brotli_maximum_output_length": cap,
        "array_based_stream_maximum_output_length": cap,
        "stream_decoding_work_maximum_length": 4 * cap,
        "array_maximum_element_count": 10_000,
        "dictionary_maximum_element_count": 10_000,
        "page_tree_maximum_entries": 1000,
        "named_destinations_maximum_entries": 1000,
        "stream_filters_maximum_length": 4,
    }


def _name_tree(
    node: Any, lim: Limits, depth: int = 0, seen: list[int] | None = None
) -> Iterator[tuple[str, Any]]:
    """(name, file specification) pairs of a name tree, with bounded nodes and depth."""
    seen = seen if seen is not None else [0]
    seen[0] += 1
    if seen[0] > lim.name_tree_max_nodes or depth > lim.name_tree_max_depth:
        raise _error("the PDF's attachment list is too deep or too large", ErrorCode.CONTAINER_TOO_LARGE)
    node = node.get_object()
    names = node.get("/Names")
    if names is not None:
        names = names.get_object()
        for i in range(0, len(names) - 1, 2):
            yield str(names[i]), names[i + 1]
    for kid in node.get("/Kids") or []:
        yield from _name_tree(kid, lim, depth + 1, seen)


def _specs(reader: Any, lim: Limits) -> list[tuple[str, Any]]:
    """The attached files (name, file specification) of the embedded files tree and ``/AF``."""
    root = reader.trailer["/Root"].get_object()
    specs: list[tuple[str, Any]] = []
    names = root.get("/Names")
    tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
    if tree is not None:
        for pair in _name_tree(tree, lim):
            specs.append(pair)
            if len(specs) > lim.max_attachments:
                raise _error(f"the PDF has more than {lim.max_attachments} attached files",
                             ErrorCode.CONTAINER_TOO_LARGE)
    af = root.get("/AF")
    for spec in (af.get_object() if af is not None else [])[: lim.max_attachments + 1]:
        specs.append(("", spec))
    if len(specs) > 2 * lim.max_attachments:
        raise _error(f"the PDF has more than {lim.max_attachments} attached files",
                     ErrorCode.CONTAINER_TOO_LARGE)
    return specs


def _is_credential(name: str, subtype: str) -> bool:
    low, mime = name.lower(), subtype.lower().lstrip("/").replace("#2f", "/")
    return low.endswith((".json", ".jsonld")) or any(t in mime for t in _JSON_TYPES) or mime in _VC_TYPES


def _attached(spec: Any, fallback: str, cap: int) -> tuple[str, bytes] | None:
    """(name, bytes) of a file specification that holds a credential, else None."""
    spec = spec.get_object()
    name = str(spec.get("/UF") or spec.get("/F") or fallback)
    ef = spec.get("/EF")
    if ef is None:
        return None
    ef = ef.get_object()
    stream = (ef.get("/UF") or ef.get("/F"))
    if stream is None:
        return None
    stream = stream.get_object()
    if not _is_credential(name, str(stream.get("/Subtype", ""))):
        return None
    data = stream.get_data()
    if len(data) > cap:
        raise _error(f"the attached {name} is over {cap} bytes", ErrorCode.CONTAINER_TOO_LARGE)
    return name, data


def _from_pdf(data: bytes, lim: Limits) -> tuple[str, bytes]:
    import logging

    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    # an uploaded file is untrusted: pypdf's warnings about its damage would let anyone fill the
    # service's log; what matters reaches the caller as the error below
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    try:
        with apply_configuration(None, **_pdf_limits(lim)):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise _error("the PDF is encrypted: its attachments cannot be read",
                             ErrorCode.CONTAINER_MALFORMED)
            size = reader.trailer.get("/Size")
            objects = max(int(size) if isinstance(size, int) else 0, len(reader.xref_objStm),
                          sum(len(v) for v in reader.xref.values()))
            if objects > lim.pdf_max_objects:
                raise _error(f"the PDF has {objects} objects, over the {lim.pdf_max_objects} cap",
                             ErrorCode.CONTAINER_TOO_LARGE)
            found: dict[bytes, str] = {}
            for fallback, spec in _specs(reader, lim):
                item = _attached(spec, fallback, lim.max_credential_bytes)
                if item is not None:
                    found.setdefault(item[1], item[0])
    except InputError:
        raise
    except LimitReachedError as exc:
        raise _error(f"the PDF is over a size limit ({exc})", ErrorCode.CONTAINER_TOO_LARGE) from None
    except Exception as exc:  # pypdf's errors and what a damaged file makes it raise
        why = type(exc).__name__
        raise _error(f"the PDF cannot be read ({why})", ErrorCode.CONTAINER_MALFORMED) from None
    if not found:
        raise _error("the PDF has no attached credential (credential.json)", ErrorCode.NO_EMBEDDED_CREDENTIAL)
    if len(found) > 1:
        names = ", ".join(sorted(found.values()))
        raise _error(f"the PDF has {len(found)} different credentials attached ({names}): ambiguous; "
                     "verify each on its own", ErrorCode.AMBIGUOUS_EMBEDDED_CREDENTIAL)
    credential, name = next(iter(found.items()))
    return name, credential

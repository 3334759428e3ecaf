"""Open Badges 3.0 baked badges: the credential inside a PNG or SVG image (OB 3.0, "Baked Badge").

PNG: one ``iTXt`` chunk with the keyword ``openbadgecredential``, no compression, empty language
tag and translated keyword, the credential JSON as its text; placed right after ``IHDR`` (an
existing ``openbadgecredential`` chunk is replaced: the spec allows only one). SVG: the root
``<svg>`` gets ``xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"`` and, directly after its
start tag, one ``<openbadges:credential>`` element holding the JSON in ``<![CDATA[...]]>``.

The image is the achievement's own when the credential carries it as a PNG or SVG ``data:`` URI
(a PNG one inside an SVG badge is referenced by an ``<image>``), else a generated badge: a disc in
a colour taken from the digest, the achievement's name and the issuer's. Deterministic.
"""

from __future__ import annotations

import base64
import colorsys
import io
import re
import struct
import textwrap
import zlib
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from registry.errors import ErrorCode, InputError
from registry.keepsakes.facts import Facts, read_facts
from registry.keepsakes.fonts import FontFiles, font_files

BadgeKind = Literal["png", "svg"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"openbadgecredential"
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
SIZE = 512
_SVG_START = re.compile(r"<svg\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(/?)>", re.S)


def baked_badge(credential: bytes, kind: BadgeKind, *, fonts: FontFiles | None = None) -> bytes:
    """The baked badge (``png`` or ``svg``) of ``credential`` (its JSON bytes, baked unchanged)."""
    facts = read_facts(credential)
    return bake_png(badge_png(facts, fonts), credential) if kind == "png" else bake_svg(
        badge_svg(facts), credential
    )


# -- images -----------------------------------------------------------------------------------


def _colour(digest: str) -> tuple[int, int, int]:
    """A calm colour from the digest: hue from its first byte, fixed lightness and saturation."""
    hue = int(digest[2:4], 16) / 256
    r, g, b = colorsys.hls_to_rgb(hue, 0.36, 0.55)
    return round(r * 255), round(g * 255), round(b * 255)


def _wrap(text: str, width: int, most: int) -> list[str]:
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def badge_svg(facts: Facts) -> bytes:
    """The SVG badge image: the achievement's image if it has one (PNG or SVG), else generated."""
    if facts.image is not None:
        mime, data = facts.image
        if mime == "image/svg+xml":
            return data
        return (
            f'<svg xmlns="{SVG_NAMESPACE}" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}">'
            f'<image width="{SIZE}" height="{SIZE}" href="data:image/png;base64,'
            f'{base64.b64encode(data).decode()}"/></svg>'
        ).encode()
    r, g, b = _colour(facts.digest)
    colour = f"#{r:02x}{g:02x}{b:02x}"
    name = _wrap(facts.achievement, 18, 3)
    first = 256 - (len(name) - 1) * 19
    title = "".join(
        f'<text x="256" y="{first + i * 38}" font-size="32" font-weight="bold">{escape(line)}</text>'
        for i, line in enumerate(name)
    )
    issuer = escape(_wrap(facts.issuer_name, 30, 1)[0])
    return (
        f'<svg xmlns="{SVG_NAMESPACE}" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}">'
        f"<title>{escape(facts.achievement)}</title>"
        f'<circle cx="256" cy="256" r="248" fill="{colour}"/>'
        '<circle cx="256" cy="256" r="222" fill="none" stroke="#fff" stroke-width="6"/>'
        '<g fill="#fff" text-anchor="middle" font-family="DejaVu Sans, Verdana, sans-serif">'
        f'{title}<text x="256" y="{first + len(name) * 38 + 30}" font-size="20">{issuer}</text></g></svg>'
    ).encode()


def badge_png(facts: Facts, fonts: FontFiles | None = None) -> bytes:
    """The PNG badge image: the achievement's PNG if it has one, else generated (Pillow)."""
    if facts.image is not None and facts.image[0] == "image/png":
        return facts.image[1]
    from PIL import Image, ImageDraw, ImageFont

    files = fonts or font_files()
    img = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    colour = _colour(facts.digest)
    draw.ellipse((8, 8, SIZE - 8, SIZE - 8), fill=colour)
    draw.ellipse((34, 34, SIZE - 34, SIZE - 34), outline=(255, 255, 255), width=6)
    bold = ImageFont.truetype(str(files.bold), 32)
    regular = ImageFont.truetype(str(files.regular), 20)
    name = _wrap(facts.achievement, 18, 3)
    first = 256 - (len(name) - 1) * 19
    for i, line in enumerate(name):
        draw.text((256, first + i * 38), line, font=bold, fill="white", anchor="ms")
    draw.text((256, first + len(name) * 38 + 30), _wrap(facts.issuer_name, 30, 1)[0], font=regular,
              fill="white", anchor="ms")
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False, compress_level=9)
    return out.getvalue()


# -- baking -----------------------------------------------------------------------------------


def png_chunks(data: bytes, *, most: int = 10_000) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of a PNG, CRCs checked, up to ``IEND``; ``InputError`` otherwise."""
    if not data.startswith(PNG_SIGNATURE):
        raise InputError("not a PNG image (no PNG signature)", code=ErrorCode.CONTAINER_MALFORMED)
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while True:
        if len(chunks) >= most:
            raise InputError(f"the PNG has more than {most} chunks", code=ErrorCode.CONTAINER_TOO_LARGE)
        if pos + 12 > len(data):
            raise InputError("the PNG is cut short (no IEND chunk)", code=ErrorCode.CONTAINER_MALFORMED)
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 8 + length
        if end + 4 > len(data):
            raise InputError(f"the PNG chunk {kind!r} runs past the end", code=ErrorCode.CONTAINER_MALFORMED)
        body = data[pos + 8 : end]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end : end + 4])[0]:
            raise InputError(f"the PNG's {kind!r} chunk is damaged (CRC)", code=ErrorCode.CONTAINER_MALFORMED)
        chunks.append((kind, body))
        pos = end + 4
        if kind == b"IEND":
            return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bake_png(image: bytes, credential: bytes) -> bytes:
    """``image`` (a PNG) with ``credential`` in its one ``openbadgecredential`` iTXt chunk."""
    chunks = png_chunks(image)
    if not chunks or chunks[0][0] != b"IHDR":
        raise InputError("the PNG does not start with IHDR", code=ErrorCode.CONTAINER_MALFORMED)
    itxt = _chunk(b"iTXt", KEYWORD + b"\x00\x00\x00" + b"\x00" + b"\x00" + credential)
    kept = [c for c in chunks[1:] if not (c[0] == b"iTXt" and c[1].startswith(KEYWORD + b"\x00"))]
    return PNG_SIGNATURE + _chunk(*chunks[0]) + itxt + b"".join(_chunk(k, b) for k, b in kept)


def _cdata(text: str) -> str:
    """``text`` as CDATA sections (a ``]]>`` inside is split across two sections)."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def bake_svg(image: bytes, credential: bytes) -> bytes:
    """``image`` (an SVG) with ``credential`` in one ``<openbadges:credential>`` element directly
    after the root's start tag; an existing one is refused (``InputError``), as is unsafe XML."""
    from registry.keepsakes.extract import parse_svg

    root = parse_svg(image)
    if root.tag != f"{{{SVG_NAMESPACE}}}svg":
        raise InputError("the image is not an SVG document", code=ErrorCode.CONTAINER_MALFORMED)
    if root.find(f".//{{{OB_NAMESPACE}}}credential") is not None:
        raise InputError(
            "the SVG already carries an Open Badges credential", code=ErrorCode.AMBIGUOUS_EMBEDDED_CREDENTIAL
        )
    text = image.decode("utf-8")
    m = _SVG_START.search(text)
    if m is None:
        raise InputError("no <svg> start tag found", code=ErrorCode.CONTAINER_MALFORMED)
    start = m.group(0)
    head = start[: -2 if m.group(1) else -1].rstrip()
    if "xmlns:openbadges=" not in head:
        head += f" xmlns:openbadges={quoteattr(OB_NAMESPACE)}"
    element = f"<openbadges:credential>{_cdata(credential.decode('utf-8'))}</openbadges:credential>"
    tail = "</svg>" if m.group(1) else ""
    baked = (text[: m.start()] + head + ">" + element + tail + text[m.end() :]).encode("utf-8")
    if parse_svg(baked).find(f"{{{OB_NAMESPACE}}}credential") is None:  # a child of the root
        raise InputError("cannot find the SVG's root start tag", code=ErrorCode.CONTAINER_MALFORMED)
    return baked

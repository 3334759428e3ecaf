"""Helpers of the keepsake tests: sample credentials (with an anchor proof-shaped member) and
hand-made hostile PDFs, PNGs and SVGs."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from registry.core.samples import sample_badge

LINK = "https://verify.example.edu/v/0x" + "ab" * 32 + "?issuer=0x" + "12" * 20
NON_LATIN = "Zoë Ångström-Παπαδοπούλου Иванова"


def credential(i: int = 1, **subject: Any) -> dict[str, Any]:
    """An Open Badges 3.0 credential (deterministic)."""
    doc = sample_badge(i, issuer_id="did:web:example.edu", issuer_name="Example University")
    doc["credentialSubject"].update(subject)
    return doc


def as_bytes(doc: Any) -> bytes:
    """Compact JSON as the pipeline writes it (non-ASCII kept)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def tiny_png(*extra: bytes) -> bytes:
    """A 1x1 greyscale PNG with ``extra`` chunks after IHDR."""
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(extra) + idat + chunk(b"IEND", b"")


def itxt(text: bytes, *, compressed: bool = False, keyword: bytes = b"openbadgecredential") -> bytes:
    """An iTXt chunk (optionally zlib-compressed text)."""
    body = zlib.compress(text) if compressed else text
    return chunk(b"iTXt", keyword + b"\x00" + bytes([int(compressed), 0]) + b"\x00\x00" + body)


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF made of ``objects`` (object i+1 is objects[i]), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"", *, flate: bool = True) -> bytes:
    """A PDF stream object body."""
    body = zlib.compress(data, 9) if flate else data
    filt = b" /Filter /FlateDecode" if flate else b""
    return b"<< /Type /EmbeddedFile /Length %d%s%s >>\nstream\n" % (len(body), filt, extra) + body + (
        b"\nendstream"
    )


def pdf_with_attachments(files: list[tuple[str, bytes]], *, flate: bool = True) -> bytes:
    """A one-page PDF whose /EmbeddedFiles name tree lists ``files`` (name, contents)."""
    n = len(files)
    # 1 catalog, 2 pages, 3 page, then per file: filespec, stream
    names = b" ".join(b"(%s) %d 0 R" % (name.encode(), 4 + 2 * i) for i, (name, _) in enumerate(files))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [" + names + b"] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    for i, (name, data) in enumerate(files):
        objs.append(b"<< /Type /Filespec /F (%s) /UF (%s) /EF << /F %d 0 R >> >>" % (
            name.encode(), name.encode(), 5 + 2 * i))
        objs.append(stream(data, flate=flate))
    assert len(objs) == 3 + 2 * n
    return raw_pdf(objs)

"""Permanent verification links and their QR codes, made locally (segno: no network, no CDN).

A link is ``<base>/v/<digest>`` (``?issuer=0x…`` when the issuer is named, so that another
issuer re-anchoring the same document body cannot make the link ambiguous). ``base`` is the
``REGISTRY_PUBLIC_URL`` setting, else the request's base URL. The same link always gives the
same QR code bytes (SVG for the page, PNG for an issuer's output).
"""

from __future__ import annotations

import io
from pathlib import Path

import segno

ERROR_LEVEL = "m"  # 15 % of the code can be damaged (a folded or scuffed print) and still read
SVG_SCALE = 4
PNG_SCALE = 8
BORDER = 4  # the quiet zone the QR specification asks for


def verification_link(base: str, digest: str, issuer: str | None = None) -> str:
    """The permanent verification link of ``digest`` (0x + 64 hex) under ``base``."""
    link = f"{base.rstrip('/')}/v/{digest.lower()}"
    return f"{link}?issuer={issuer}" if issuer else link


def qr_code(link: str) -> segno.QRCode:
    """The QR code of ``link`` (a full QR code, never a Micro QR one)."""
    return segno.make(link, error=ERROR_LEVEL, micro=False, boost_error=False)


def qr_svg(link: str) -> bytes:
    """The QR code of ``link`` as a standalone SVG (black on white, no script, no external reference)."""
    out = io.BytesIO()
    qr_code(link).save(
        out,
        kind="svg",
        scale=SVG_SCALE,
        border=BORDER,
        dark="#000",
        light="#fff",
        xmldecl=False,
        title="Verification link",
        desc=link,
    )
    return out.getvalue()


def write_qr_png(link: str, path: Path, scale: int = PNG_SCALE) -> Path:
    """Write the QR code of ``link`` as a PNG to ``path`` (for the issuer's output) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    qr_code(link).save(str(path), kind="png", scale=scale, border=BORDER, dark="#000", light="#fff")
    return path

"""A printable certificate: one landscape page (A4 or US Letter) naming the issuer, the recipient,
the achievement and the issue date, with the QR code and the text of the permanent verification
link, and the credential JSON attached as ``credential.json``.

The attachment is a PDF embedded file (in the document's ``/EmbeddedFiles`` name tree and, as a
PDF 2.0 associated file, in the catalogue's ``/AF`` with the relationship ``/Data``), MIME type
``application/vc+ld+json``, holding exactly the bytes given. Deterministic: the creation and
modification dates are the credential's issue date, there is no random file identifier and the
font subset depends only on the text, so the same credential and link give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from registry.keepsakes.facts import Facts, read_facts
from registry.keepsakes.fonts import FontFiles, font_files

Paper = Literal["a4", "letter"]
PAPERS: dict[str, tuple[str, float, float]] = {"a4": ("A4", 297.0, 210.0), "letter": ("Letter", 279.4, 215.9)}
ATTACHMENT = "credential.json"
MEDIA_TYPE = "application/vc+ld+json"
FONT = "DejaVu"
INK = (22, 38, 74)  # dark blue
MUTED = (90, 98, 112)
QR_SIZE = 38.0  # mm: ~0.5 mm modules for a 145-character link, readable by any phone camera


@dataclass(frozen=True)
class _Box:
    """The page's width and height in millimetres."""

    w: float
    h: float


def certificate_pdf(
    credential: bytes, link: str, paper: Paper = "a4", *, fonts: FontFiles | None = None
) -> bytes:
    """The certificate PDF of ``credential`` (its JSON bytes, embedded unchanged) pointing to
    ``link`` (the permanent verification link); ``InputError`` when it is not a JSON object."""
    return render(read_facts(credential), link, paper, fonts=fonts)


def render(facts: Facts, link: str, paper: Paper = "a4", *, fonts: FontFiles | None = None) -> bytes:
    """The certificate PDF of already read ``facts``."""
    from fpdf import FPDF

    fmt, w, h = PAPERS[paper]
    files = fonts or font_files()
    pdf = FPDF(orientation="L", unit="mm", format=fmt)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font(FONT, "", str(files.regular))
    pdf.add_font(FONT, "B", str(files.bold))
    pdf.set_creation_date(facts.issued)
    pdf.set_title(f"{facts.achievement} — {facts.recipient}" if facts.recipient else facts.achievement)
    pdf.set_author(facts.issuer_name)
    pdf.set_subject(f"Verifiable credential {facts.digest}")
    pdf.set_creator("credential-registry")
    pdf.set_lang("en")
    pdf.add_page()
    box = _Box(w, h)
    _frame(pdf, box)
    _body(pdf, box, facts)
    _footer(pdf, box, facts, link)
    pdf.embed_file(
        bytes=facts.credential,
        basename=ATTACHMENT,
        modification_date=facts.issued,
        creation_date=facts.issued,
        mime_type=MEDIA_TYPE,
        associated_file_relationship="Data",
        desc="The verifiable credential (JSON) this certificate shows; verify it with the link",
        compress=True,
    )
    return bytes(pdf.output())


def _frame(pdf: Any, box: _Box) -> None:
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.8)
    pdf.rect(10, 10, box.w - 20, box.h - 20)
    pdf.set_line_width(0.25)
    pdf.rect(13, 13, box.w - 26, box.h - 26)


@contextmanager
def _style(pdf: Any, size: float, bold: bool = False, colour: tuple[int, int, int] = INK) -> Iterator[None]:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_text_color(*colour)
    yield


def _fit(pdf: Any, text: str, width: float, size: float, smallest: float, bold: bool) -> float:
    """The largest font size from ``size`` down to ``smallest`` at which ``text`` fits on one line."""
    while size > smallest:
        pdf.set_font(FONT, "B" if bold else "", size)
        if pdf.get_string_width(text) <= width:
            return size
        size -= 1
    return smallest


def _lines(pdf: Any, x: float, y: float, width: float, height: float, text: str, most: int) -> float:
    """``text`` centred in at most ``most`` lines (the last one cut with "…"); the y below it."""
    lines = pdf.multi_cell(width, height, text, align="C", dry_run=True, output="LINES")
    if len(lines) > most:
        lines = lines[:most]
        last = lines[-1]
        while last and pdf.get_string_width(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    for i, line in enumerate(lines):
        pdf.set_xy(x, y + i * height)
        pdf.cell(width, height, line, align="C")
    return y + len(lines) * height


def _body(pdf: Any, box: _Box, f: Facts) -> None:
    inner = box.w - 60
    with _style(pdf, 13, bold=True):
        _lines(pdf, 30, 29, inner, 6, f.issuer_name, 2)
    with _style(pdf, 11, colour=MUTED):
        pdf.set_xy(30, 46)
        pdf.cell(inner, 6, "certifies that" if f.recipient else "awards", align="C")
    y = 55.0
    if f.recipient:
        size = _fit(pdf, f.recipient, inner, 30, 16, bold=True)
        with _style(pdf, size, bold=True):
            pdf.set_xy(30, y)
            pdf.cell(inner, 14, f.recipient, align="C")
        with _style(pdf, 11, colour=MUTED):
            pdf.set_xy(30, y + 17)
            pdf.cell(inner, 6, "has been awarded", align="C")
        y += 26
    with _style(pdf, _fit(pdf, f.achievement, inner, 22, 15, bold=True), bold=True):
        y = _lines(pdf, 30, y, inner, 9, f.achievement, 2) + 3
    if f.description:
        with _style(pdf, 10, colour=MUTED):
            y = _lines(pdf, 45, y, box.w - 90, 5, f.description, 4) + 2
    if f.results:
        with _style(pdf, 10):
            _lines(pdf, 45, y, box.w - 90, 5, " · ".join(f.results), 1)


def _footer(pdf: Any, box: _Box, f: Facts, link: str) -> None:
    from registry.verify.qr import PNG_SCALE, qr_code

    png = io.BytesIO()
    qr_code(link).save(png, kind="png", scale=PNG_SCALE, border=4, dark="#000", light="#fff")
    qx, qy = box.w - 22 - QR_SIZE, box.h - 30 - QR_SIZE
    pdf.image(io.BytesIO(png.getvalue()), qx, qy, QR_SIZE, QR_SIZE, link=link, alt_text="QR code: " + link)
    left = 24.0
    with _style(pdf, 11, bold=True):
        pdf.set_xy(left, qy + 6)
        pdf.cell(qx - left - 8, 6, "Issued " + f.issued.strftime("%Y-%m-%d"))
    with _style(pdf, 10):
        pdf.set_xy(left, qy + 13)
        pdf.cell(qx - left - 8, 5, f"by {f.issuer_name}"[:160])
    with _style(pdf, 7, colour=MUTED):
        pdf.set_xy(left, qy + 20)
        pdf.cell(qx - left - 8, 4, "Credential " + f.digest)
        pdf.set_xy(left, qy + 25)
        pdf.multi_cell(
            qx - left - 8,
            3.5,
            f"This PDF carries the credential itself as the attached file {ATTACHMENT}. To check it, "
            "scan the QR code or open the link, or drop this PDF on the verification page.",
        )
    with _style(pdf, _fit(pdf, link, box.w - 44, 8, 5, bold=False)):
        pdf.set_xy(22, box.h - 24)
        pdf.cell(box.w - 44, 5, link, align="C", link=link)

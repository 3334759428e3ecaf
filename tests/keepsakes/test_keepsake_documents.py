"""The documents people keep, without a chain: certificate PDFs and OB 3.0 baked badges are
deterministic, carry the credential's exact bytes, print what they should (non-Latin names too)
and their QR code reads back as the link."""

from __future__ import annotations

import base64
import io

import pytest
import zxingcpp
from keepsake_kit import LINK, NON_LATIN, as_bytes, credential, tiny_png
from PIL import Image
from pypdf import PdfReader

from registry.keepsakes.badge import KEYWORD, bake_png, bake_svg, baked_badge, png_chunks
from registry.keepsakes.extract import extract_credential, parse_svg
from registry.keepsakes.pdf import certificate_pdf

MM = 72 / 25.4


@pytest.mark.parametrize(("paper", "size_mm"), [("a4", (297, 210)), ("letter", (279.4, 215.9))])
def test_certificate_is_landscape_and_deterministic(paper: str, size_mm: tuple[float, float]) -> None:
    data = as_bytes(credential(1, name=NON_LATIN))
    pdf = certificate_pdf(data, LINK, paper)  # type: ignore[arg-type]
    assert pdf == certificate_pdf(data, LINK, paper)  # type: ignore[arg-type]  # same bytes
    assert pdf != certificate_pdf(as_bytes(credential(2)), LINK, paper)  # type: ignore[arg-type]
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / MM, 1), round(float(box.height) / MM, 1)) == size_mm
    # the creation date is the credential's (validFrom), never the clock
    assert reader.metadata is not None and reader.metadata["/CreationDate"].startswith("D:20261006")


def test_certificate_prints_the_facts_in_an_embedded_unicode_font() -> None:
    doc = credential(1, name=NON_LATIN)
    pdf = certificate_pdf(as_bytes(doc), LINK)
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    for expected in (NON_LATIN, "Example University", "Cybersecurity Fundamentals", "Issued 2026-10-06",
                     "Introductory course in information security", "Result: 82%", LINK):
        assert expected in text, expected
    fonts = reader.pages[0]["/Resources"]["/Font"]
    names = {str(f.get_object()["/BaseFont"]) for f in fonts.values()}
    assert names and all("DejaVu" in n for n in names)  # a TTF subset, not a Latin-1 core font
    assert all("/FontFile2" in f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
               for f in fonts.values())


def test_certificate_attaches_the_exact_credential_bytes() -> None:
    data = as_bytes(credential(3))
    pdf = certificate_pdf(data, LINK)
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments["credential.json"] == [data]
    catalog = reader.trailer["/Root"]
    spec = catalog["/AF"][0].get_object()  # a PDF 2.0 associated file of the document
    assert spec["/AFRelationship"] == "/Data" and spec["/UF"] == "credential.json"
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/application/vc+ld+json"  # pypdf decodes #2F
    got = extract_credential(pdf)
    assert got.kind == "pdf" and got.data == data and got.where == "credential.json"


def test_certificate_qr_code_reads_back_as_the_link() -> None:
    pdf = certificate_pdf(as_bytes(credential(4)), LINK)
    images = PdfReader(io.BytesIO(pdf)).pages[0].images
    assert len(images) == 1
    decoded = zxingcpp.read_barcodes(images[0].image)
    assert [d.text for d in decoded] == [LINK]
    assert decoded[0].format == zxingcpp.BarcodeFormat.QRCode


def test_long_fields_are_cut_not_overflowing() -> None:
    doc = credential(5, name="N" * 300)
    doc["credentialSubject"]["achievement"]["name"] = "Very long achievement name " * 20
    doc["credentialSubject"]["achievement"]["description"] = "word " * 500
    text = PdfReader(io.BytesIO(certificate_pdf(as_bytes(doc), LINK))).pages[0].extract_text()
    assert "…" in text  # description and achievement name cut
    assert len(text) < 3000


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_baked_badge_round_trip_and_determinism(kind: str) -> None:
    data = as_bytes(credential(6, name=NON_LATIN))
    baked = baked_badge(data, kind)  # type: ignore[arg-type]
    assert baked == baked_badge(data, kind)  # type: ignore[arg-type]
    got = extract_credential(baked)
    assert got.kind == kind and got.data == data
    if kind == "png":
        chunks = png_chunks(baked)
        assert chunks[0][0] == b"IHDR" and chunks[1][0] == b"iTXt"
        # OB 3.0: keyword openbadgecredential, compression flag 0, empty language tag / translation
        assert chunks[1][1] == KEYWORD + b"\x00\x00\x00\x00\x00" + data
        assert Image.open(io.BytesIO(baked)).size == (512, 512)  # a real image
    else:
        root = parse_svg(baked)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        first = root[0]
        assert first.tag == "{https://purl.imsglobal.org/ob/v3p0}credential" and first.text == data.decode()
        assert b'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked
        assert b"<![CDATA[" in baked


def test_achievement_image_is_used_when_the_document_carries_one() -> None:
    png = tiny_png()
    doc = credential(7)
    doc["credentialSubject"]["achievement"]["image"] = {
        "id": "data:image/png;base64," + base64.b64encode(png).decode(), "type": "Image"}
    data = as_bytes(doc)
    baked = baked_badge(data, "png")
    assert [k for k, _ in png_chunks(baked)] == [b"IHDR", b"iTXt", b"IDAT", b"IEND"]  # the issuer's image
    svg_badge = baked_badge(data, "svg")
    assert b"<image" in svg_badge and extract_credential(svg_badge).data == data

    own_svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><rect width="9" height="9"/></svg>'
    doc["credentialSubject"]["achievement"]["image"] = "data:image/svg+xml;base64," + base64.b64encode(
        own_svg).decode()
    baked_svg = baked_badge(as_bytes(doc), "svg")
    assert b"<rect" in baked_svg and extract_credential(baked_svg).data == as_bytes(doc)


def test_baking_replaces_a_previous_png_credential_and_survives_cdata_ends() -> None:
    old = bake_png(tiny_png(), b'{"old":1}')
    new = bake_png(old, b'{"new":2}')
    assert sum(1 for k, b in png_chunks(new) if k == b"iTXt") == 1
    assert extract_credential(new).data == b'{"new":2}'
    tricky = b'{"name":"a]]>b"}'  # "]]>" cannot appear inside one CDATA section
    svg = bake_svg(b'<svg xmlns="http://www.w3.org/2000/svg"/>', tricky)
    assert extract_credential(svg).data == tricky

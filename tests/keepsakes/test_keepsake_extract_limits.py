"""Hostile uploads: decompression bombs, PDFs with thousands of attachments or objects, two
credentials in one file, XXE and entity expansion in SVG, damaged files. Each is a clear error
(a stable code), with bounded work; none is a silent pick."""

from __future__ import annotations

import io
import time

import pytest
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keepsake_kit import as_bytes, credential, itxt, pdf_with_attachments, raw_pdf, tiny_png
from pypdf import PdfWriter

from registry.errors import InputError
from registry.keepsakes.badge import bake_svg
from registry.keepsakes.extract import Limits, extract_credential, sniff
from registry.keepsakes.pdf import certificate_pdf

CRED = as_bytes(credential(1))
SVG_HEAD = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'


def _code(data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(InputError) as info:
        extract_credential(data, limits)
    assert info.value.http_status == 422 and info.value.exit_code == 2
    return str(info.value.code)


def test_sniffing_passes_json_and_garbage_through_unchanged() -> None:
    for data in (CRED, b"  {}", b"not json", b"", b"<html>not svg</html>"):
        got = extract_credential(data)
        assert got.kind == "json" and got.data == data and got.source() is None
    assert sniff(b"junk %PDF-1.7") == "pdf" and sniff(tiny_png()) == "png"


def test_pdf_deflate_bomb_is_refused_without_inflating_it() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.embed_file(bytes=b"{" + b" " * (64 * 1024 * 1024) + b"}", basename="credential.json", compress=True)
    bomb = bytes(pdf.output())
    assert len(bomb) < 200 * 1024  # 64 MiB of JSON in well under 200 KB
    t0 = time.process_time()
    assert _code(bomb) == "container_too_large"
    assert time.process_time() - t0 < 5  # bounded work (a generous bound; the cap is 1 MiB)


def test_pdf_with_thousands_of_attachments_is_refused() -> None:
    files = [(f"f{i}.txt", b"x") for i in range(2000)]
    assert _code(pdf_with_attachments(files, flate=False)) == "container_too_large"


def test_pdf_with_too_many_objects_is_refused() -> None:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    objs += [b"<< /N %d >>" % i for i in range(6000)]
    assert _code(raw_pdf(objs)) == "container_too_large"


def test_pdf_with_two_different_credentials_is_ambiguous() -> None:
    other = as_bytes(credential(2))
    with pytest.raises(InputError) as info:
        extract_credential(pdf_with_attachments([("credential.json", CRED), ("other.json", other)]))
    assert info.value.code == "ambiguous_embedded_credential"
    assert "credential.json" in info.value.message and "other.json" in info.value.message
    # the same bytes listed twice are one credential; a non-JSON attachment is not a credential
    same = pdf_with_attachments([("a.json", CRED), ("b.json", CRED), ("notes.txt", b"hello")])
    assert extract_credential(same).data == CRED


def test_pdf_without_a_credential_encrypted_or_damaged() -> None:
    assert _code(pdf_with_attachments([("notes.txt", b"hello")])) == "no_embedded_credential"
    assert _code(pdf_with_attachments([])) == "no_embedded_credential"
    w = PdfWriter(clone_from=io.BytesIO(certificate_pdf(CRED, "https://v.example/v/0x" + "00" * 32)))
    w.encrypt("secret")
    out = io.BytesIO()
    w.write(out)
    assert _code(out.getvalue()) == "container_malformed"
    assert _code(b"%PDF-1.7\n garbage garbage") == "container_malformed"
    good = certificate_pdf(CRED, "https://v.example/v/0x" + "00" * 32)
    assert _code(good[: len(good) // 2]) in ("container_malformed", "no_embedded_credential")


def test_oversized_attachment_is_refused() -> None:
    big = b'{"x":"' + b"a" * 3000 + b'"}'
    assert _code(pdf_with_attachments([("credential.json", big)]), Limits(max_credential_bytes=1000)) == (
        "container_too_large"
    )


def test_png_bomb_two_chunks_damage_and_ob2() -> None:
    bomb = tiny_png(itxt(b"{" + b" " * (64 * 1024 * 1024) + b"}", compressed=True))
    assert len(bomb) < 200 * 1024
    assert _code(bomb) == "container_too_large"
    assert extract_credential(tiny_png(itxt(CRED, compressed=True))).data == CRED  # bounded inflate
    assert _code(tiny_png(itxt(CRED), itxt(as_bytes(credential(2))))) == "ambiguous_embedded_credential"
    assert _code(tiny_png()) == "no_embedded_credential"
    assert _code(tiny_png(itxt(b'{"a":1}', keyword=b"openbadges"))) == "no_embedded_credential"
    damaged = bytearray(tiny_png(itxt(CRED)))
    damaged[60] ^= 0xFF  # inside the iTXt text: its CRC no longer matches
    assert _code(bytes(damaged)) == "container_malformed"
    assert _code(tiny_png(itxt(CRED))[:-20]) == "container_malformed"  # cut short
    assert _code(tiny_png(itxt(b"eyJhbGciOiJFZERTQSJ9.eyJ2YyI6e319.c2ln"))) == "vc_jwt_not_supported"


def test_png_with_too_many_chunks_is_refused() -> None:
    many = tiny_png(*[itxt(b"x", keyword=b"Comment")] * 50)
    assert _code(many, Limits(png_max_chunks=20)) == "container_too_large"


@pytest.mark.parametrize(
    "svg",
    [
        # XXE: an external entity reading a local file
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + SVG_HEAD + b"<openbadges:credential>&xxe;</openbadges:credential></svg>",
        # billion laughs: nested entity expansion
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        + SVG_HEAD
        + b"<openbadges:credential>&c;</openbadges:credential></svg>",
        # an external DTD
        b'<?xml version="1.0"?><!DOCTYPE svg SYSTEM "http://127.0.0.1:9/evil.dtd">' + SVG_HEAD + b"</svg>",
        # a DTD with no entity at all is refused too
        b"<!DOCTYPE svg>" + SVG_HEAD + b"</svg>",
    ],
)
def test_svg_with_a_dtd_or_entities_is_refused(svg: bytes) -> None:
    with pytest.raises(InputError) as info:
        extract_credential(svg)
    assert info.value.code == "unsafe_xml"
    assert "root:" not in info.value.message  # nothing of /etc/passwd anywhere
    with pytest.raises(InputError):
        bake_svg(svg, CRED)  # the issuer side refuses it as well


def test_svg_two_elements_none_jwt_and_malformed() -> None:
    two = SVG_HEAD + b"<openbadges:credential>{}</openbadges:credential>" * 2 + b"</svg>"
    assert _code(two) == "ambiguous_embedded_credential"
    assert _code(SVG_HEAD + b"<rect/></svg>") == "no_embedded_credential"
    jwt = SVG_HEAD + b'<openbadges:credential verify="eyJh.eyJ2.c2ln"></openbadges:credential></svg>'
    assert _code(jwt) == "vc_jwt_not_supported"
    assert _code(SVG_HEAD + b"<openbadges:credential>") == "container_malformed"
    assert _code(b'<svg xmlns="http://example.org/not-svg"></svg>') == "container_malformed"
    assert _code(b'<html xmlns="http://www.w3.org/1999/xhtml"><svg/></html>') == "container_malformed"


_SAMPLES = {
    "pdf": certificate_pdf(CRED, "https://v.example/v/0x" + "00" * 32),
    "png": tiny_png(itxt(CRED)),
    "svg": bake_svg(SVG_HEAD + b"<rect/></svg>", CRED),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(_SAMPLES)), edits=st.lists(
    st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_files_give_a_clear_error_or_a_credential(kind: str, edits: list[tuple[float, int]]) -> None:
    """Random byte changes anywhere: the answer is a credential or an InputError, never a crash."""
    data = bytearray(_SAMPLES[kind])
    for where, value in edits:
        data[int(where * len(data))] = value
    try:
        got = extract_credential(bytes(data))
    except InputError as exc:
        assert exc.code.http_status == 422
    else:
        assert isinstance(got.data, bytes)

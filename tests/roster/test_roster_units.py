"""Rosters, templates and row ids without a chain: reading CSV/XLSX, rendering, refusing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.core.credential import validate_credential
from registry.errors import ErrorCode, InputError
from registry.roster import ids
from registry.roster.starter import starter_bytes, starter_template
from registry.roster.table import read_roster
from registry.roster.template import CellError, load_template

ISSUER = "https://credentials.example.edu/issuers/1"
SEEDS = [
    "Digital Marketing",
    "Data Analysis with Python",
    "Renewable Energy Technician",
    "Cybersecurity Fundamentals",
]


def _read(path: Path) -> object:
    return read_roster(path, max_rows=1000, max_bytes=1 << 20)


def _tpl(doc: dict) -> object:
    return load_template("t.json", json.dumps(doc).encode())


def test_csv_with_bom_and_semicolons(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_bytes(b'\xef\xbb\xbfId;First Name;Email\n1;Zo\xc3\xab;zoe@example.org\n\n2;"A;B";b@example.org\n')
    r = _read(p)
    assert r.columns == ["id", "first_name", "email"]
    assert r.rows == [
        (2, {"id": "1", "first_name": "Zoë", "email": "zoe@example.org"}),
        (4, {"id": "2", "first_name": "A;B", "email": "b@example.org"}),
    ]


def test_non_utf8_roster_names_the_row(tmp_path: Path) -> None:
    p = tmp_path / "latin1.csv"
    p.write_bytes("id,name\n1,Ann\n2,Zoë\n".encode("latin-1"))
    with pytest.raises(InputError) as e:
        _read(p)
    assert e.value.code == ErrorCode.ROSTER_ENCODING
    assert "not UTF-8" in e.value.message and "row 3" in e.value.message and "0xeb" in e.value.message


def test_row_with_extra_cells_is_a_row_error_not_the_file(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("id,name\n1,Ann\n2,Bob,extra\n3,Cy\n")
    r = _read(p)
    assert [n for n, _ in r.rows] == [2, 4]
    assert [(x.row, x.code) for x in r.problems] == [(3, ErrorCode.BAD_ROW)]


def test_duplicate_header_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("id,Name,name\n1,a,b\n")
    with pytest.raises(InputError) as e:
        _read(p)
    assert e.value.code == ErrorCode.BAD_HEADER and "columns 2 and 3" in e.value.message


def test_xlsx_roster(tmp_path: Path) -> None:
    import datetime

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "name", "completion_date", "score"])
    ws.append([101, "Ann", datetime.datetime(2026, 3, 1), 91.0])
    ws.append([None, None, None, None])
    ws.append(["102", "Bob", datetime.date(2026, 3, 2), 88.5])
    wb.save(tmp_path / "r.xlsx")
    r = _read(tmp_path / "r.xlsx")
    assert r.rows == [
        (2, {"id": "101", "name": "Ann", "completion_date": "2026-03-01", "score": "91"}),
        (4, {"id": "102", "name": "Bob", "completion_date": "2026-03-02", "score": "88.5"}),
    ]


def test_oversized_roster_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("id\n" + "".join(f"{i}\n" for i in range(20)))
    with pytest.raises(InputError) as e:
        read_roster(p, max_rows=10, max_bytes=1 << 20)
    assert e.value.code == ErrorCode.ROSTER_TOO_LARGE
    with pytest.raises(InputError) as e:
        read_roster(p, max_rows=100, max_bytes=10)
    assert e.value.code == ErrorCode.ROSTER_TOO_LARGE


def test_values_render_inside_strings_only() -> None:
    t = _tpl({"name": "{{ name }}", "n": 3, "list": ["x {{ name }}"], "{{ name }}": "key kept"})
    hostile = 'Ann", "admin": true, "x": "} {{ 7*7 }} <script>alert(1)</script>'
    doc = t.render({"name": hostile})
    assert doc["name"] == hostile and doc["list"] == ["x " + hostile] and doc["n"] == 3
    assert doc["{{ name }}"] == "key kept" and "admin" not in doc
    assert json.loads(json.dumps(doc)) == doc


@pytest.mark.parametrize(
    "placeholder", ["{{ ''.__class__ }}", "{{ name.__class__.__mro__ }}", "{{ name['__class__'] }}"]
)
def test_private_attributes_are_refused_at_load(placeholder: str) -> None:
    with pytest.raises(InputError) as e:
        _tpl({"name": placeholder})
    assert e.value.code == ErrorCode.TEMPLATE_REFUSED


@pytest.mark.parametrize(
    "placeholder",
    [
        "{{ name | attr('__class__') }}",
        "{{ range(3) | list }}",
        "{{ lipsum() }}",
        "{{ name.format_map }}x{{ name.format_map({}) }}",
    ],
)
def test_sandbox_refuses_what_load_cannot_see(placeholder: str) -> None:
    t = _tpl({"name": placeholder})
    with pytest.raises(CellError) as e:
        t.render({"name": "Ann"})
    assert e.value.code == ErrorCode.TEMPLATE_REFUSED and e.value.column is None


def test_strict_missing_and_empty_columns() -> None:
    t = _tpl({"name": "{{ name }}", "grade": "{{ grade | default('Completed') }}"})
    assert t.missing_columns(["id"]) == ["grade", "name"]
    assert t.render({"name": "Ann", "grade": ""})["grade"] == "Completed"
    with pytest.raises(CellError) as e:
        t.render({"name": "", "grade": "A"})
    assert (e.value.column, e.value.code) == ("name", ErrorCode.EMPTY_CELL)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-03-01", "2026-03-01T00:00:00Z"),
        ("2026-03-01T10:00:00+02:00", "2026-03-01T08:00:00Z"),
        ("2026-13-01", None),
        ("01/03/2026", None),
        ("2026-02-30", None),
        ("", None),
    ],
)
def test_datetime_filter(value: str, ok: str | None) -> None:
    t = _tpl({"validFrom": "{{ d | datetime }}"})
    if ok:
        assert t.render({"d": value})["validFrom"] == ok
        return
    with pytest.raises(CellError) as e:
        t.render({"d": value})
    assert e.value.column == "d"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Ann@Example.ORG", "Ann@example.org"),
        ("a b@x.org", None),
        ("ann@", None),
        ("ann@x", None),
        ("a..b@x.org", None),
    ],
)
def test_email_filter(value: str, ok: str | None) -> None:
    t = _tpl({"e": "{{ email | email }}"})
    if ok:
        assert t.render({"email": value})["e"] == ok
        return
    with pytest.raises(CellError) as e:
        t.render({"email": value})
    assert (e.value.column, e.value.code) == ("email", ErrorCode.INVALID_CELL)


def test_templates_with_an_id_or_proof_are_refused() -> None:
    for doc in ({"id": "urn:x", "name": "a"}, {"proof": {}, "name": "a"}):
        with pytest.raises(InputError) as e:
            _tpl(doc)
        assert e.value.code == ErrorCode.INVALID_TEMPLATE
    with pytest.raises(InputError):
        load_template("t.json", b'{"a": "x", "a": "y"}')  # strict JSON: duplicate keys


def test_row_ids_are_deterministic_and_keyed() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    t = b"\x03" * 32
    assert ids.row_credential_id(a, t, "42") == ids.row_credential_id(a, t, "42")
    assert ids.row_credential_id(a, t, "42") != ids.row_credential_id(b, t, "42")
    assert ids.row_credential_id(a, t, "42") != ids.row_credential_id(a, t, "43")
    assert ids.row_credential_id(a, t, "42") != ids.row_credential_id(a, t, "42", replaces=b"\x09" * 32)
    assert ids.row_credential_id(a, t, "42").startswith("urn:uuid:")


@pytest.mark.parametrize("course", SEEDS)
def test_seed_course_templates_render_strictly_valid_credentials(course: str) -> None:
    t = load_template(
        "t.json", starter_bytes(course, issuer_name="Demo College", issuer_url="https://demo.example")
    )
    doc = t.render(
        {
            "id": "7",
            "name": "Ann Lee",
            "email": "ann@example.org",
            "completion_date": "2026-03-01",
            "grade": "",
        },
        issuer_id=ISSUER,
        row_number=2,
        salt="00" * 16,
    )
    assert doc["credentialSubject"]["achievement"]["name"] == course
    assert "TODO" not in json.dumps(doc)
    doc["id"] = "urn:uuid:8d1c1f0e-6c1a-4c8e-9a51-6f2f1f0c9a11"
    info = validate_credential(doc, strict=True)
    assert info.kind == "ob3" and info.issuer == ISSUER
    if course == "Renewable Energy Technician":
        assert doc["validUntil"] == "2029-03-01T00:00:00Z"


def test_unknown_course_gives_a_generic_template() -> None:
    doc = starter_template("Beekeeping Basics", issuer_name="X", issuer_url="https://x.example")
    assert doc["credentialSubject"]["achievement"]["name"] == "Beekeeping Basics"
    assert "TODO" in doc["credentialSubject"]["achievement"]["description"]

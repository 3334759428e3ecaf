"""Bulk verification: ``registry verify`` with several paths, folders and ZIPs, and
``POST /api/v1/verify/bulk`` with its bounds (files, bytes, ZIP bombs, nested archives, concurrency)."""

from __future__ import annotations

import copy
import csv
import io
import json
import struct
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import newcomer_env
from verify_helpers import Batch, Env, serve_app, wait_for, write_json

from registry.chain.anvil import Anvil
from registry.settings import load_settings
from registry.verify.bulk import BulkLimits, BulkRow, plan_file, rows_csv
from registry.verify.service import create_app

REGISTRY = [sys.executable, "-c", "from registry.cli.main import run; run()"]
PROBLEM = "application/problem+json"


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _js(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _tampered(doc: dict[str, Any]) -> dict[str, Any]:
    bad = copy.deepcopy(doc)
    bad["credentialSubject"]["name"] = "Someone Else"
    return bad


def _patch_sizes(data: bytes, size: int) -> bytes:
    """The archive with every header's uncompressed size of its first member set to ``size``."""
    out = bytearray(data)
    local = out.find(b"PK\x03\x04")
    struct.pack_into("<L", out, local + 22, size)
    central = out.find(b"PK\x01\x02")
    struct.pack_into("<L", out, central + 24, size)
    return bytes(out)


def _set_encrypted(data: bytes) -> bytes:
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(sig)
        (flags,) = struct.unpack_from("<H", out, at + off)
        struct.pack_into("<H", out, at + off, flags | 1)
    return bytes(out)


# -- the pure part: planning archives -----------------------------------------------------------------


def _plan(data: bytes, **limits: int) -> list[Any]:
    items, _ = plan_file("bundle.zip", io.BytesIO(data), len(data), BulkLimits(**limits))
    return items


def test_archive_bounds() -> None:
    bomb = _zip({"bomb.json": b"\0" * (1024 * 1024)})  # 1 MiB of zeros: ~1000 times its compressed size
    [item] = _plan(bomb)
    assert item.read is None and "ZIP bomb" in (item.error or "") and item.name == "bundle.zip/bomb.json"
    [item] = _plan(_zip({"big.json": b"{}" + b" " * 5000}, zipfile.ZIP_STORED), max_file_bytes=4096)
    assert item.read is None and "over the 4096-byte cap" in (item.error or "")
    [item] = _plan(_zip({"inner.zip": _zip({"a.json": b"{}"})}))
    assert item.read is None and "nested ZIP" in (item.error or "")
    [item] = _plan(_zip({"disguised.json": _zip({"a.json": b"{}"})}))  # an archive under another name
    assert item.read is not None
    with pytest.raises(Exception, match="nested ZIP"):
        item.read()
    [item] = _plan(_set_encrypted(_zip({"secret.json": b"{}"})))
    assert item.read is None and "encrypted" in (item.error or "")
    # a member whose headers understate its size: zipfile stops at the declared size, CRC fails
    lying = _patch_sizes(_zip({"a.json": b"x" * 10_000}), 10)
    [item] = _plan(lying)
    assert item.read is not None
    with pytest.raises(zipfile.BadZipFile):
        item.read()
    with pytest.raises(Exception, match="over the cap of 3"):
        _plan(_zip({f"{i}.json": b"{}" for i in range(4)}), max_files=3)
    [item] = _plan(b"PK\x03\x04 truncated")
    assert item.read is None and "not a readable ZIP" in (item.error or "")
    items, skipped = plan_file(
        "b.zip",
        io.BytesIO(z := _zip({"README.txt": b"hi", "__MACOSX/._a.json": b"x", "d/a.json": b"{}"})),
        len(z),
        BulkLimits(),
    )
    assert [i.name for i in items] == ["b.zip/d/a.json"]
    assert skipped == ["b.zip/README.txt", "b.zip/__MACOSX/._a.json"]


def test_csv_cells_are_never_formulas() -> None:
    row = BulkRow(
        file='=HYPERLINK("http://x")', status="invalid", verified=False, achievement="+1", issuer="@me"
    )
    lines = list(csv.reader(io.StringIO(rows_csv([row]))))
    assert lines[0] == ["file", "verdict", "issuer", "achievement", "digest", "failed_check", "message"]
    assert lines[1][:4] == ['\'=HYPERLINK("http://x")', "invalid", "'@me", "'+1"]


# -- the CLI ----------------------------------------------------------------------------------------


def _cli(args: list[str], cwd: Path, anvil: Anvil, env: Env) -> subprocess.CompletedProcess[str]:
    e = newcomer_env()
    e["REGISTRY_DATA_DIR"] = str(cwd / ".registry")
    cmd = [*REGISTRY, "verify", *args, "--rpc-url", anvil.url, "--trusted", env.registry]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=cwd, env=e)


def _files(tmp: Path, batch: Batch) -> list[str]:
    """a.json (valid), dir/ (valid, tampered), bundle.zip (valid, revoked), bad.json, missing.json."""
    write_json(tmp / "a.json", batch.credentials[0])
    (tmp / "dir" / "sub").mkdir(parents=True)
    write_json(tmp / "dir" / "one.json", batch.credentials[1])
    write_json(tmp / "dir" / "sub" / "two.json", _tampered(batch.credentials[1]))
    (tmp / "dir" / "notes.txt").write_text("not a credential")
    (tmp / "bundle.zip").write_bytes(
        _zip({"x/revoked.json": _js(batch.credentials[2]), "valid.json": _js(batch.credentials[3])})
    )
    (tmp / "bad.json").write_bytes(b"\xff\xfe not json")
    return ["a.json", "dir", "bundle.zip", "bad.json", "missing.json"]


def test_cli_bulk_table_json_csv(anvil: Anvil, env: Env, batch: Batch, tmp_path: Path) -> None:
    env.revoke([batch.digests[2]])
    args = _files(tmp_path, batch)
    res = _cli([*args, "--json"], tmp_path, anvil, env)
    assert res.returncode == 1, res.stderr
    rows = json.loads(res.stdout)
    got = {r["file"]: r["status"] for r in rows}
    assert got == {
        "a.json": "valid",
        "dir/one.json": "valid",
        "dir/sub/two.json": "invalid",
        "bundle.zip/x/revoked.json": "revoked",
        "bundle.zip/valid.json": "valid",
        "bad.json": "invalid",
        "missing.json": "error",
    }
    [a] = [r for r in rows if r["file"] == "a.json"]
    assert a["issuer"] == "Example University" and a["digest"] == "0x" + batch.digests[0].hex()
    assert a["achievement"] == "Applied Cryptography" and a["result"]["verified"] is True
    [two] = [r for r in rows if r["file"] == "dir/sub/two.json"]
    assert two["failed_check"] == "integrity" and two["issuer"] == "Example University (as claimed)"
    [missing] = [r for r in rows if r["file"] == "missing.json"]
    assert "cannot read" in missing["message"] and missing["result"] is None
    [revoked] = [r for r in rows if r["file"].endswith("revoked.json")]
    assert revoked["failed_check"] == "credential_not_revoked"

    res = _cli([*args, "--csv"], tmp_path, anvil, env)
    assert res.returncode == 1
    table = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["file"], r["verdict"]) for r in table] == [(r["file"], r["status"]) for r in rows]

    res = _cli(args, tmp_path, anvil, env)
    assert res.returncode == 1
    for name in ("a.json", "two.json", "revoked.json", "missing.json"):
        assert name in res.stdout
    assert "3 of 7 credentials valid" in res.stdout and "REVOKED" in res.stdout

    ok = _cli(["a.json", "dir/one.json", "bundle.zip/../bundle.zip"], tmp_path, anvil, env)
    assert ok.returncode == 1  # the zip holds the revoked one
    ok = _cli(["a.json", "dir/one.json"], tmp_path, anvil, env)
    assert ok.returncode == 0, ok.stdout
    assert "2 of 2 credentials valid" in ok.stdout
    single_zip = _cli(["bundle.zip", "--json"], tmp_path, anvil, env)  # one archive: a table too
    assert [r["status"] for r in json.loads(single_zip.stdout)] == ["revoked", "valid"]
    single = _cli(["a.json", "--json"], tmp_path, anvil, env)  # one file: the result, as before
    assert single.returncode == 0 and json.loads(single.stdout)["status"] == "valid"


# -- the endpoint -----------------------------------------------------------------------------------


@pytest.fixture
def bulk_api(anvil: Anvil, env: Env) -> Iterator[httpx.Client]:
    settings = load_settings(
        rpc_url=anvil.url,
        trusted_registries=[env.registry],
        cache_staleness=2.0,
        max_request_bytes=64 * 1024,
        bulk_max_files=6,
        bulk_max_file_bytes=32 * 1024,
        bulk_max_total_bytes=100 * 1024,
        bulk_max_request_bytes=400 * 1024,
        bulk_max_concurrent=1,
    )
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def _post(api: httpx.Client, files: list[tuple[str, bytes]]) -> httpx.Response:
    return api.post("/api/v1/verify/bulk", files=[("files", (name, data)) for name, data in files])


def test_bulk_endpoint_rows(bulk_api: httpx.Client, env: Env, batch: Batch) -> None:
    env.revoke([batch.digests[2]])
    bundle = _zip(
        {"in/zip.json": _js(batch.credentials[3]), "../../etc/passwd.json": _js(batch.credentials[2])}
    )
    files = [
        ("one.json", _js(batch.credentials[0])),
        ("tampered.json", _js(_tampered(batch.credentials[1]))),
        ("garbage.json", b"\x00\x01 not json"),
        ("bundle.zip", bundle),
        ("bomb.zip", _zip({"bomb.json": b"\0" * (30 * 1024)})),
    ]
    assert wait_for(lambda: "revoked" in _post(bulk_api, files).text, timeout=20)
    r = _post(bulk_api, files)
    assert r.status_code == 200, r.text
    body = r.json()
    got = [(row["file"], row["status"]) for row in body["rows"]]
    assert got == [
        ("one.json", "valid"),
        ("tampered.json", "invalid"),
        ("garbage.json", "invalid"),
        ("bundle.zip/in/zip.json", "valid"),
        ("bundle.zip/../../etc/passwd.json", "revoked"),  # a name to show, never a path
        ("bomb.zip/bomb.json", "error"),
    ]
    assert body["count"] == 6 and body["valid"] == 2 and body["all_valid"] is False
    assert "ZIP bomb" in body["rows"][5]["message"]
    assert body["rows"][0]["result"]["anchor"]["transaction_hash"] == batch.tx_hash


def test_bulk_endpoint_limits(bulk_api: httpx.Client, batch: Batch) -> None:
    one = _js(batch.credentials[0])
    r = _post(bulk_api, [(f"{i}.json", one) for i in range(7)])  # 7 files, cap 6
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "bulk_limit"
    r = _post(bulk_api, [("a.zip", _zip({f"{i}.json": one for i in range(7)}))])  # 7 members
    assert r.status_code == 413 and "over the cap of 6" in r.json()["detail"]
    r = _post(bulk_api, [(f"{i}.json", b" " * (30 * 1024)) for i in range(4)])  # 120 KiB > 100 KiB total
    assert r.status_code == 413 and "uncompressed" in r.json()["detail"]
    r = _post(bulk_api, [("big.json", b" " * (40 * 1024))])  # one file over the per-file cap: its row
    assert r.status_code == 200 and r.json()["rows"][0]["status"] == "error"
    r = _post(bulk_api, [("huge.json", b" " * (500 * 1024))])  # over the body cap
    assert r.status_code == 413 and r.json()["code"] == "request_too_large"
    r = bulk_api.post("/api/v1/verify/bulk", files={"file": ("a.json", one)})  # wrong field
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)
    r = bulk_api.post("/api/v1/verify/bulk", content=one, headers={"Content-Type": "application/json"})
    assert r.status_code == 415


def test_bulk_verifications_at_a_time(bulk_api: httpx.Client, batch: Batch) -> None:
    """bulk_max_concurrent=1: while one bulk upload is still being received, another is 503."""
    boundary = "bulkboundary"
    release = threading.Event()
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()

    def slow() -> Iterator[bytes]:
        yield head
        release.wait(20)
        yield _js(batch.credentials[0]) + f"\r\n--{boundary}--\r\n".encode()

    answers: list[httpx.Response] = []
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    t = threading.Thread(
        target=lambda: answers.append(bulk_api.post("/api/v1/verify/bulk", content=slow(), headers=headers))
    )
    t.start()
    try:
        with httpx.Client(base_url=str(bulk_api.base_url), timeout=30) as other:
            assert wait_for(lambda: _post(other, [("b.json", b"{}")]).status_code == 503, timeout=10)
            r = _post(other, [("b.json", b"{}")])
            assert r.headers["content-type"].startswith(PROBLEM) and r.headers["retry-after"] == "5"
    finally:
        release.set()
        t.join(30)
    assert answers and answers[0].status_code == 200 and answers[0].json()["rows"][0]["status"] == "valid"
    assert _post(bulk_api, [("b.json", b"{}")]).status_code == 200  # the slot is free again

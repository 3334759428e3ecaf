"""A certificate PDF or a baked badge verifies exactly as its credential JSON does, against anvil:
through the session (``registry verify``'s), the CLI and ``POST /api/v1/verify/file``."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import newcomer_env
from verify_helpers import Batch, Env, serve_app

from registry.chain.anvil import Anvil
from registry.errors import InputError
from registry.keepsakes.badge import baked_badge
from registry.keepsakes.pdf import certificate_pdf
from registry.settings import load_settings
from registry.verify.qr import verification_link
from registry.verify.service import create_app
from registry.verify.session import VerificationSession

REGISTRY = [sys.executable, "-c", "from registry.cli.main import run; run()"]
BASE = "https://verify.example.edu"


def _bytes(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _link(doc: dict[str, Any]) -> str:
    proof = doc["proof"][-1]
    from registry.core.anchor_suite import decode_anchor_proof

    p = decode_anchor_proof(proof)
    return verification_link(BASE, p.digest, p.issuer)


def _documents(doc: dict[str, Any]) -> dict[str, bytes]:
    data = _bytes(doc)
    return {
        "pdf": certificate_pdf(data, _link(doc)),
        "letter.pdf": certificate_pdf(data, _link(doc), "letter"),
        "png": baked_badge(data, "png"),
        "svg": baked_badge(data, "svg"),
    }


def _tampered(batch: Batch) -> dict[str, Any]:
    bad = copy.deepcopy(batch.credentials[0])
    bad["credentialSubject"]["name"] = "Someone Else"
    return bad


def _two_credentials(batch: Batch) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.embed_file(bytes=_bytes(batch.credentials[0]), basename="credential.json")
    pdf.embed_file(bytes=_bytes(batch.credentials[1]), basename="second.json")
    return bytes(pdf.output())


@pytest.fixture
def session(anvil: Anvil, env: Env) -> Iterator[VerificationSession]:
    with VerificationSession(load_settings(rpc_url=anvil.url, trusted_registries=[env.registry])) as s:
        yield s


def test_documents_verify_like_their_json(session: VerificationSession, batch: Batch) -> None:
    as_json = session.verify(_bytes(batch.credentials[0]))
    assert as_json.status.value == "valid" and as_json.source is None
    for kind, data in _documents(batch.credentials[0]).items():
        result = session.verify(data)
        assert result.status.value == "valid", kind
        assert result.digest == as_json.digest
        assert [c.model_dump() for c in result.checks] == [c.model_dump() for c in as_json.checks]
        assert result.source is not None and result.source.kind == kind.split(".")[-1]
        assert result.credential == as_json.credential
    pdf = session.verify(certificate_pdf(_bytes(batch.credentials[0]), _link(batch.credentials[0])))
    assert pdf.source is not None and pdf.source.embedded == "credential.json"
    assert "attached to the PDF" in pdf.source.note


def test_tampered_embedded_credential_is_invalid_exactly_as_json(
    session: VerificationSession, batch: Batch
) -> None:
    bad = _tampered(batch)
    as_json = session.verify(_bytes(bad))
    assert as_json.status.value == "invalid"
    failed = {c.name for c in as_json.checks if c.status.value == "failed"}
    assert failed
    for kind, data in _documents(bad).items():
        result = session.verify(data)
        assert result.status.value == "invalid", kind
        assert {c.name for c in result.checks if c.status.value == "failed"} == failed


def test_ambiguous_pdf_is_an_error_not_a_pick(session: VerificationSession, batch: Batch) -> None:
    with pytest.raises(InputError) as info:
        session.verify(_two_credentials(batch))
    assert info.value.code == "ambiguous_embedded_credential"


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = newcomer_env()
    env["REGISTRY_DATA_DIR"] = str(cwd / ".registry")
    return subprocess.run([*REGISTRY, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def test_cli_verifies_pdf_and_badges(anvil: Anvil, env: Env, batch: Batch, tmp_path: Path) -> None:
    files = {}
    for kind, data in _documents(batch.credentials[1]).items():
        files[kind] = tmp_path / f"cert.{kind}"
        files[kind].write_bytes(data)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(_documents(_tampered(batch))["pdf"])
    two = tmp_path / "two.pdf"
    two.write_bytes(_two_credentials(batch))
    common = ["--rpc-url", anvil.url, "--trusted", env.registry]

    res = _cli(["verify", str(files["pdf"]), *common, "--json"], tmp_path)
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["status"] == "valid" and body["source"]["kind"] == "pdf"
    human = _cli(["verify", str(files["png"]), *common], tmp_path)
    assert human.returncode == 0 and "VALID" in human.stdout and "baked into the PNG" in human.stdout
    assert _cli(["verify", str(files["svg"]), *common], tmp_path).returncode == 0
    assert _cli(["verify", str(bad), *common], tmp_path).returncode == 1
    amb = _cli(["verify", str(two), *common], tmp_path)
    assert amb.returncode == 2 and "ambiguous_embedded_credential" in amb.stderr


def test_http_file_endpoint_accepts_pdf_and_badges(anvil: Anvil, env: Env, batch: Batch) -> None:
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], cache_staleness=2.0)
    docs = _documents(batch.credentials[2])
    xxe = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>')
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as api:
        for kind, data in docs.items():
            r = api.post("/api/v1/verify/file", files={"file": (f"c.{kind}", data)})
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "valid" and r.json()["source"]["kind"] == kind.split(".")[-1]
        r = api.post("/api/v1/verify/file", files={"file": ("c.json", _bytes(batch.credentials[2]))})
        assert r.status_code == 200 and r.json()["source"] is None
        r = api.post("/api/v1/verify/file", files={"file": ("bad.png", _documents(_tampered(batch))["png"])})
        assert r.status_code == 200 and r.json()["status"] == "invalid"
        r = api.post("/api/v1/verify/file", files={"file": ("two.pdf", _two_credentials(batch))})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "ambiguous_embedded_credential"
        r = api.post("/api/v1/verify/file", files={"file": ("x.svg", xxe)})
        assert r.status_code == 422 and r.json()["code"] == "unsafe_xml" and "root:" not in r.text
        from fpdf import FPDF

        bomb = FPDF()
        bomb.add_page()  # 64 MiB of JSON deflated into ~64 KB
        bomb.embed_file(bytes=b"{" + b" " * (64 << 20) + b"}", basename="credential.json", compress=True)
        r = api.post("/api/v1/verify/file", files={"file": ("bomb.pdf", bytes(bomb.output()))})
        assert r.status_code == 422 and r.json()["code"] == "container_too_large"
        assert api.get("/healthz").status_code == 200  # still answering


def test_bulk_takes_certificates_and_badges(anvil: Anvil, env: Env, batch: Batch, tmp_path: Path) -> None:
    """Several files on the command line, and POST /api/v1/verify/bulk (with a ZIP of them)."""
    import zipfile

    docs = _documents(batch.credentials[3])
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("in/cert.pdf", docs["pdf"])
    files = {"cert.pdf": docs["pdf"], "badge.png": docs["png"], "badge.svg": docs["svg"],
             "two.pdf": _two_credentials(batch), "bundle.zip": bundle.getvalue()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    common = ["--rpc-url", anvil.url, "--trusted", env.registry, "--json"]
    res = _cli(["verify", *files, *common], tmp_path)
    rows = {r["file"]: r["status"] for r in json.loads(res.stdout)}
    assert rows == {"cert.pdf": "valid", "badge.png": "valid", "badge.svg": "valid", "two.pdf": "error",
                    "bundle.zip/in/cert.pdf": "valid"}, res.stderr
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], cache_staleness=2.0)
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as api:
        r = api.post("/api/v1/verify/bulk", files=[("files", (n, d)) for n, d in files.items()])
        assert r.status_code == 200, r.text
        got = {row["file"]: row["status"] for row in r.json()["rows"]}
        assert got == rows
        two = next(row for row in r.json()["rows"] if row["file"] == "two.pdf")
        assert "ambiguous" in two["message"] or "different credentials" in two["message"]
        pdf_row = next(row for row in r.json()["rows"] if row["file"] == "cert.pdf")
        assert pdf_row["result"]["source"]["kind"] == "pdf"

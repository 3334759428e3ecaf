"""The credential shown in the result, the permanent verification link /v/<digest> and its QR code.

No QR decoder is installed here (no zbar, OpenCV or Pillow; Chromium's BarcodeDetector is not
available on Linux), so the QR code is checked through segno: the served SVG is byte for byte the
code segno makes of exactly the expected link, and a different link gives different bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from verify_helpers import Batch, Env, anchor_batch, make_credential, serve_app, wait_for

from registry.chain.anvil import Anvil
from registry.ipfs import LocalStore
from registry.settings import load_settings
from registry.verify.qr import qr_code, qr_svg, verification_link, write_qr_png
from registry.verify.service import create_app

JSON = {"Content-Type": "application/json"}


def _preset(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="preset">(.*?)</script>', html, re.S)
    assert m is not None
    data: dict[str, Any] = json.loads(m.group(1))
    return data


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def pinned(env: Env, store: LocalStore) -> Batch:
    docs = [make_credential(f"Linked {i}", course="Distributed Systems") for i in range(3)]
    return anchor_batch(env, docs, store=store)


def _site(anvil: Anvil, env: Env, store: LocalStore, **kw: Any) -> Any:
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], store_dir=store.root, cache_staleness=1.0, **kw
    )
    return serve_app(create_app(settings))


@pytest.fixture
def site(anvil: Anvil, env: Env, store: LocalStore, pinned: Batch) -> Iterator[tuple[str, httpx.Client]]:
    with _site(anvil, env, store) as url, httpx.Client(base_url=url, timeout=30) as api:
        assert wait_for(lambda: api.get("/readyz").status_code == 200, timeout=20)
        yield url, api


def test_the_result_carries_the_credential_shown(site: tuple[str, httpx.Client], pinned: Batch) -> None:
    _, api = site
    body = api.post("/api/v1/verify", content=json.dumps(pinned.credentials[0]), headers=JSON).json()
    assert body["status"] == "valid"
    c = body["credential"]
    assert c["kind"] == "vc" and c["recipient"] == "Linked 0"
    assert c["achievement"]["name"] == "Distributed Systems"
    assert c["issuer_name"] == "Example University" and c["valid_from"] == "2025-01-01T00:00:00Z"
    assert {"label": "achievement.grade", "value": "A"} in c["fields"]
    assert body["issuer"]["uri"] == "https://example.edu" and body["issuer"]["registered_at"]
    bare = api.get(f"/api/v1/credentials/0x{pinned.digests[0].hex()}").json()
    assert bare["status"] == "valid" and bare["credential"] is None  # no document presented
    spec = api.get("/openapi.json").json()
    # pages for people (HTML, HTML errors) like "/": not part of the JSON API's schema, whose every
    # error is problem+json (tests/verify/test_fuzz.py holds every documented operation to that)
    assert "/v/{digest}" not in spec["paths"] and "/v/{digest}/qr.svg" not in spec["paths"]
    assert "credential" in spec["components"]["schemas"]["VerificationResult"]["properties"]


def test_link_page_verifies_on_every_visit(site: tuple[str, httpx.Client], pinned: Batch, env: Env) -> None:
    url, api = site
    digest = "0x" + pinned.digests[1].hex()
    r = api.get(f"/v/{digest}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    preset = _preset(r.text)
    assert preset["result"]["status"] == "valid" and preset["result"]["digest"] == digest
    assert preset["link"] == f"{url}/v/{digest}" and preset["qr"] == f"{digest}/qr.svg"
    env.revoke([pinned.digests[1]])
    assert wait_for(
        lambda: _preset(api.get(f"/v/{digest}").text)["result"]["status"] == "revoked", timeout=20
    )
    revoked = _preset(api.get(f"/v/{digest}").text)["result"]
    assert next(c for c in revoked["checks"] if c["name"] == "credential_not_revoked")["status"] == "failed"
    unknown = api.get("/v/0x" + "42" * 32)
    assert unknown.status_code == 404 and _preset(unknown.text)["result"]["status"] == "invalid"
    assert api.get("/v/0x1234").status_code == 422  # not a digest: refused, never verified


def test_qr_svg_encodes_exactly_the_link(site: tuple[str, httpx.Client], pinned: Batch, env: Env) -> None:
    url, api = site
    digest = "0x" + pinned.digests[0].hex()
    r = api.get(f"/v/{digest.upper().replace('0X', '0x')}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    link = f"{url}/v/{digest}"
    assert r.content == qr_svg(link)  # segno's code of exactly this link (no decoder installed)
    assert r.content != qr_svg(link + "x") and b"<script" not in r.content
    named = api.get(f"/v/{digest}/qr.svg", params={"issuer": env.issuer.address.lower()})
    assert named.content == qr_svg(f"{link}?issuer={env.issuer.address}")


def test_public_url_setting_makes_the_links(anvil: Anvil, env: Env, store: LocalStore, pinned: Batch) -> None:
    digest = "0x" + pinned.digests[2].hex()
    with (
        _site(anvil, env, store, public_url="https://verify.example.edu/") as url,
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        assert api.get(f"/v/{digest}/qr.svg").content == qr_svg(f"https://verify.example.edu/v/{digest}")
        assert _preset(api.get("/").text)["public"] == "https://verify.example.edu/"


def test_png_for_the_issuer_output(tmp_path: Path) -> None:
    link = verification_link("https://verify.example.edu", "0x" + "AB" * 32)
    assert link == "https://verify.example.edu/v/0x" + "ab" * 32
    p = write_qr_png(link, tmp_path / "out" / "qr.png")
    again = write_qr_png(link, tmp_path / "again.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.read_bytes() == again.read_bytes()
    assert qr_code(link).designator.endswith("-M")

"""The HTTP API on a real uvicorn server against anvil: verdicts, problem+json, limits, operations."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anchor_forms import tamper
from verify_helpers import (
    Batch,
    Env,
    anchor_batch,
    garbage_node,
    make_credential,
    serve_app,
    wait_for,
)

from registry.chain.anvil import Anvil, free_port
from registry.settings import load_settings
from registry.verify.service import create_app

PROBLEM = "application/problem+json"


def _app(rpc_url: str, env: Env, **kw: Any) -> Any:
    settings = load_settings(rpc_url=rpc_url, trusted_registries=[env.registry], rpc_timeout=3.0, **kw)
    return create_app(settings)


@pytest.fixture
def api(anvil: Anvil, env: Env) -> Iterator[httpx.Client]:
    """A verifier for the fixture registry, staleness bound 2 s, on a real server."""
    with (
        serve_app(_app(anvil.url, env, cache_staleness=2.0, max_request_bytes=64 * 1024)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def _verify(api: httpx.Client, cred: Any) -> httpx.Response:
    return api.post("/api/v1/verify", content=json.dumps(cred), headers={"Content-Type": "application/json"})


def test_valid_credential(api: httpx.Client, batch: Batch, env: Env) -> None:
    r = _verify(api, batch.credentials[0])
    assert r.status_code == 200
    body = r.json()
    assert body["verified"] is True and body["status"] == "valid"
    assert body["issuer"]["name"] == "Example University"
    assert body["anchor"]["transaction_hash"] == batch.tx_hash
    statuses = {c["name"]: c["status"] for c in body["checks"]}
    assert len(statuses) == 12 and statuses.pop("signature") == "skipped"  # unsigned
    assert set(statuses.values()) == {"passed"}


def test_file_upload(api: httpx.Client, batch: Batch) -> None:
    r = api.post(
        "/api/v1/verify/file",
        files={"file": ("cred.json", json.dumps(batch.credentials[1]).encode(), "application/json")},
    )
    assert r.status_code == 200 and r.json()["status"] == "valid"
    bad = copy.deepcopy(batch.credentials[1])
    bad["credentialSubject"]["name"] = "Someone Else"
    r = api.post("/api/v1/verify/file", files={"file": ("cred.json", json.dumps(bad).encode())})
    assert r.status_code == 200 and r.json()["status"] == "invalid"


def test_tampered_and_garbage_bodies_are_invalid_not_errors(api: httpx.Client, batch: Batch) -> None:
    bad = copy.deepcopy(batch.credentials[0])
    tamper(bad, lambda f: f["merklePath"].__setitem__(0, "0x" + "00" * 32))
    r = _verify(api, bad)
    assert r.status_code == 200
    assert r.json()["status"] == "invalid"
    assert next(c for c in r.json()["checks"] if c["name"] == "merkle_inclusion")["status"] == "failed"
    r = api.post("/api/v1/verify", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["status"] == "invalid"


def test_states_change_within_the_staleness_bound(api: httpx.Client, env: Env, batch: Batch) -> None:
    for cred in batch.credentials:
        assert _verify(api, cred).json()["status"] == "valid"  # now cached
    env.revoke([batch.digests[0]])
    env.suspend([batch.digests[1]])
    assert wait_for(lambda: _verify(api, batch.credentials[0]).json()["status"] == "revoked", timeout=20)
    assert wait_for(lambda: _verify(api, batch.credentials[1]).json()["status"] == "suspended", timeout=20)
    env.reinstate([batch.digests[1]])
    assert wait_for(lambda: _verify(api, batch.credentials[1]).json()["status"] == "valid", timeout=20)
    env.revoke_batch(batch.root)
    assert wait_for(lambda: _verify(api, batch.credentials[3]).json()["status"] == "revoked", timeout=20)


def test_expired_and_not_yet_valid(api: httpx.Client, env: Env) -> None:
    b = anchor_batch(
        env,
        [
            make_credential("Old", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z"),
            make_credential("Future", valid_from="2098-01-01T00:00:00Z"),
        ],
    )
    assert _verify(api, b.credentials[0]).json()["status"] == "expired"
    assert _verify(api, b.credentials[1]).json()["status"] == "not_yet_valid"


def test_issuer_suspended_and_key_revoked(api: httpx.Client, env: Env, batch: Batch, anvil_w3: Any) -> None:
    from helpers import latest_timestamp, set_next_block_timestamp

    set_next_block_timestamp(anvil_w3, latest_timestamp(anvil_w3) + 50)
    late = anchor_batch(env, [make_credential("Late")])
    env.suspend_issuer(env.issuer.address)
    assert wait_for(lambda: _verify(api, batch.credentials[0]).json()["issuer"]["status"] == "suspended", 20)
    assert _verify(api, batch.credentials[0]).json()["status"] == "valid"
    env.revoke_issuer_key(env.issuer.address, late.anchored_at)
    assert wait_for(lambda: _verify(api, late.credentials[0]).json()["status"] == "invalid", timeout=20)
    assert _verify(api, batch.credentials[0]).json()["status"] == "valid"


def test_batches_and_issuers(api: httpx.Client, env: Env, batch: Batch) -> None:
    r = api.get(f"/api/v1/batches/0x{batch.root.hex()}")
    assert r.status_code == 200
    b = r.json()
    assert b["count"] == 4 and b["issuer"] == env.issuer.address and b["revoked"] is False
    assert b["transaction_hash"] == batch.tx_hash and b["manifest_cid"] == batch.manifest_cid
    assert b["issuer_name"] == "Example University"
    r = api.get("/api/v1/batches/0x" + "12" * 32)
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["status"] == 404 and r.json()["type"].endswith("not_found")
    r = api.get(f"/api/v1/issuers/{env.issuer.address}")
    assert r.status_code == 200
    assert r.json()["name"] == "Example University" and r.json()["status"] == "active"
    r = api.get("/api/v1/issuers/0x" + "ab" * 20)
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    r = api.get("/api/v1/batches/not-a-root")
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)


def test_problem_json_and_size_cap(api: httpx.Client, batch: Batch) -> None:
    r = api.get("/no/such/page")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert set(r.json()) >= {"type", "title", "status", "detail"}
    r = api.delete("/api/v1/verify")
    assert r.status_code == 405 and r.headers["content-type"].startswith(PROBLEM)
    big = make_credential("x" * (70 * 1024))
    r = _verify(api, big)
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    assert "cap" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap is enforced while reading
        for _ in range(100):
            yield b" " * 1024

    r = api.post("/api/v1/verify", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = api.post("/api/v1/verify/file", files={"file": ("big.json", b" " * (70 * 1024))})
    assert r.status_code == 413


def test_chunked_multipart_over_the_cap_is_413(api: httpx.Client) -> None:
    """Issue 10, item 16: a chunked multipart upload over the cap answered 400 (FastAPI turns the
    size error raised while parsing the form into 'error parsing the body')."""
    boundary = "registrytestboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        yield head
        for _ in range(100):
            yield b" " * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    r = api.post(
        "/api/v1/verify/file",
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "request_too_large"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_verify_requires_a_json_content_type(
    api: httpx.Client, batch: Batch, content_type: str | None
) -> None:
    """Issue 10, item 13: a cross-site 'simple' POST (text/plain, form-urlencoded, multipart, or
    no type) needs no CORS preflight, so any web page could make its visitors post to the API."""
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps(batch.credentials[0]).encode()
    r = api.post("/api/v1/verify", content=body, headers=headers)
    if content_type is None:  # httpx sends no Content-Type for raw content
        assert "content-type" not in r.request.headers
    assert r.status_code == 415 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "unsupported_media_type"
    for ok in ("application/json", "application/json; charset=utf-8", "application/ld+json"):
        r = api.post("/api/v1/verify", content=body, headers={"Content-Type": ok})
        assert r.json()["status"] == "valid", ok


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/json", "application/x-www-form-urlencoded"]
)
def test_verify_file_requires_multipart(api: httpx.Client, batch: Batch, content_type: str | None) -> None:
    """Issue 10, item 13: /api/v1/verify/file takes multipart/form-data only."""
    headers = {"Content-Type": content_type} if content_type else {}
    r = api.post("/api/v1/verify/file", content=json.dumps(batch.credentials[0]).encode(), headers=headers)
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    assert r.headers.get("accept-post") == "multipart/form-data"


def test_health_ready_metrics_openapi(api: httpx.Client, batch: Batch) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    _verify(api, batch.credentials[0])
    m = api.get("/metrics")
    assert m.status_code == 200
    assert 'registry_verifications_total{status="valid"}' in m.text
    assert "registry_chain_head_block" in m.text
    spec = api.get("/openapi.json").json()
    for path in (
        "/api/v1/verify",
        "/api/v1/verify/file",
        "/api/v1/credentials/{digest}",
        "/api/v1/batches/{root}",
        "/api/v1/issuers/{address}",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in spec["paths"], path
    assert "503" in spec["paths"]["/api/v1/verify"]["post"]["responses"]


def test_page_is_served_self_contained(api: httpx.Client) -> None:
    r = api.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    for external in ("http://", "https://", "//cdn"):
        assert external not in r.text.replace("https://www.w3.org", "")


def test_cors_is_configurable(anvil: Anvil, env: Env) -> None:
    app = _app(anvil.url, env, cors_origins=["https://hr.example"])
    with serve_app(app) as url, httpx.Client(base_url=url) as c:
        pre = {"Origin": "https://hr.example", "Access-Control-Request-Method": "POST"}
        r = c.options("/api/v1/verify", headers=pre)
        assert r.headers.get("access-control-allow-origin") == "https://hr.example"
        r = c.options("/api/v1/verify", headers={**pre, "Origin": "https://evil.example"})
        assert r.headers.get("access-control-allow-origin") is None
    with serve_app(_app(anvil.url, env)) as url, httpx.Client(base_url=url) as c:  # default: no CORS
        r = c.get("/healthz", headers={"Origin": "https://hr.example"})
        assert "access-control-allow-origin" not in r.headers


def test_chain_down_answers_503_indeterminate(env: Env, batch: Batch) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with serve_app(_app(closed, env)) as url, httpx.Client(base_url=url, timeout=30) as c:
        r = _verify(c, batch.credentials[0])
        assert r.status_code == 503
        assert r.json()["status"] == "indeterminate" and r.json()["verified"] is False
        assert r.headers.get("retry-after")
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.headers["content-type"].startswith(PROBLEM)
        assert c.get("/healthz").status_code == 200
        r = c.get(f"/api/v1/batches/0x{batch.root.hex()}")
        assert r.status_code == 503 and r.headers["content-type"].startswith(PROBLEM)


def test_garbage_node_answers_503_indeterminate(env: Env, batch: Batch) -> None:
    # the tiny HTTP server stands in for a broken node answering garbage JSON-RPC
    with (
        garbage_node("garbage") as node,
        serve_app(_app(node, env)) as url,
        httpx.Client(base_url=url, timeout=30) as c,
    ):
        r = _verify(c, batch.credentials[0])
        assert r.status_code == 503 and r.json()["status"] == "indeterminate"
        r = c.get(f"/api/v1/issuers/{env.issuer.address}")
        assert r.status_code == 503 and r.headers["content-type"].startswith(PROBLEM)


def test_no_private_key_in_the_service() -> None:
    import registry.verify.service as service

    for path in Path(service.__file__).parent.rglob("*.py"):  # the service and every module it uses
        src = path.read_text(encoding="utf-8")
        assert "private_key" not in src and "load_account" not in src and "send_raw_transaction" not in src


def test_tampering_matrix_through_the_api(api: httpx.Client, batch: Batch, env: Env) -> None:
    from test_core import DOC_PATHS, PROOF_CASES, _get, _set, _tweak, apply_proof_case

    for case in PROOF_CASES:
        cred = copy.deepcopy(batch.credentials[0])
        apply_proof_case(cred, case, batch, env)
        r = _verify(api, cred)
        assert r.status_code == 200 and r.json()["status"] == "invalid", case
    for path in DOC_PATHS:
        cred = copy.deepcopy(batch.credentials[0])
        _set(cred, path, _tweak(_get(cred, path)))
        r = _verify(api, cred)
        assert r.status_code == 200 and r.json()["status"] == "invalid", path
    assert _verify(api, batch.credentials[0]).json()["status"] == "valid"


def test_service_refuses_to_start_without_a_trusted_registry(anvil: Anvil, env: Env) -> None:
    from registry.errors import ConfigError

    with pytest.raises(ConfigError, match="no trusted registry"):
        create_app(load_settings(rpc_url=anvil.url, trusted_registries=[], contract=None))
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError, match="REGISTRY_CHAIN_ID"):
        create_app(load_settings(rpc_url=closed, trusted_registries=[], contract=env.address, chain_id=None))
    # with the contract alone, the node's chain id completes the allowlist
    app = create_app(load_settings(rpc_url=anvil.url, trusted_registries=[], contract=env.address))
    assert app.state.verifier.config.trusted == frozenset({(env.chain_id, env.address)})

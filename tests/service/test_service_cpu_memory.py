"""Issue 10, items 9 and 10: memory of the verify memo, bounded answers, CPU off the event loop."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from service_kit import credential, self_anchored, serve, service_settings

import registry.core.cid as cid_module
from registry.core.cid import MAX_CID_CHARS, parse_cid
from registry.errors import InputError
from registry.verify.responses import MAX_MESSAGE_CHARS
from registry.verify.service import create_app

MB = 1024 * 1024


def _count_decoder(monkeypatch: Any) -> list[str]:
    """Count calls into the multibase decoder (``multiformats.CID.decode``)."""
    calls: list[str] = []
    real = cid_module.CID

    class Counting:
        @staticmethod
        def decode(s: str) -> Any:
            calls.append(s[:20])
            return real.decode(s)

    monkeypatch.setattr(cid_module, "CID", Counting)
    return calls


def test_long_cid_is_rejected_before_decoding(monkeypatch: Any) -> None:
    """A 500 KB CID took 34 s in the quadratic base58 decoder; now it never reaches it."""
    calls = _count_decoder(monkeypatch)
    for s in ("z" + "2" * 500_000, "b" + "a" * 500_000, "Q" + "m" * (MAX_CID_CHARS + 1)):
        with pytest.raises(InputError) as info:
            parse_cid(s)
        assert info.value.code == "invalid_cid" and "cap" in info.value.message
        assert len(info.value.message) < 200
    assert calls == []
    # real CIDs in other bases still decode (through the decoder)
    v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    assert parse_cid(v0).version == 0 and len(calls) == 1


def test_api_rejects_a_500_kb_manifest_cid_fast(tmp_path: Path, monkeypatch: Any) -> None:
    calls = _count_decoder(monkeypatch)
    settings = service_settings(tmp_path)
    doc = self_anchored(credential("Long cid"), manifest_cid="z" + "2" * 500_000)
    with serve(create_app(settings, follow=False), settings) as (url, _):
        r = httpx.post(
            url + "/api/v1/verify",
            content=json.dumps(doc),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    assert r.status_code == 200 and r.json()["status"] == "invalid"
    fmt = r.json()["checks"][0]
    assert fmt["name"] == "format" and fmt["status"] == "failed" and "cap" in fmt["message"]
    assert calls == []


def test_memo_is_bounded_by_bytes_and_keeps_no_failures(tmp_path: Path) -> None:
    """36 distinct 1 MB documents took a worker from 97 MiB to 1.19 GB: the memo held 20,000
    prepared results of any size, failures included. Now it accounts bytes and keeps successes only."""
    settings = service_settings(tmp_path, verify_memo_bytes=4 * MB, max_request_bytes=2 * MB)
    verifier = create_app(settings, follow=False).state.verifier
    memo = verifier.memo

    async def run() -> None:
        # locally consistent forgeries (any one can make them): these are memoised, within the bound
        for i in range(12):
            body = json.dumps(self_anchored(credential(f"Forged {i}", padding=MB - 2000))).encode()
            assert 0.9 * MB < len(body) <= MB
            prep = await verifier.prepare_async(body)
            assert not prep.local_failed
            assert memo.bytes <= 4 * MB and len(memo) <= 4
        assert len(memo) >= 3  # it does memoise
        kept = memo.bytes
        # format failures of 1 MB each (a credential with no issuer, padded): never memoised
        for i in range(12):
            doc = credential(f"Broken {i}", padding=MB - 2000)
            del doc["issuer"]
            prep = await verifier.prepare_async(json.dumps(doc).encode())
            assert prep.local_failed
        # tampered documents (integrity fails) are not kept either
        for i in range(5):
            forged = self_anchored(credential(f"Tampered {i}", padding=100_000))
            forged["credentialSubject"]["name"] = "Someone else"
            assert (await verifier.prepare_async(json.dumps(forged).encode())).local_failed
        assert memo.bytes == kept and memo.bytes <= 4 * MB

    anyio.run(run)
    print(f"memo: {len(memo)} entries, {memo.bytes} accounted bytes (bound {4 * MB})")


def test_a_document_with_thousands_of_errors_gets_a_bounded_answer(tmp_path: Path) -> None:
    """A format failure listed every error (each naming a path of any length) in the answer."""
    settings = service_settings(tmp_path)
    subjects = [{"id": 5, ("k" * 200): i} for i in range(5000)]  # every subject id is not a URL
    doc = credential("Many errors")
    doc["credentialSubject"] = subjects
    doc["issuer"] = 7
    body = json.dumps(doc)
    with serve(create_app(settings, follow=False), settings) as (url, _):
        r = httpx.post(url + "/api/v1/verify", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["status"] == "invalid"
    for check in r.json()["checks"]:
        assert len(check["message"]) <= MAX_MESSAGE_CHARS + 60
    assert len(r.content) < 20_000, len(r.content)


def test_healthz_answers_while_a_large_document_is_prepared(tmp_path: Path, monkeypatch: Any) -> None:
    """Parsing and checking ran on the event loop (a 500 KB CID blocked /healthz for 34 s): large
    documents are now prepared in the bounded thread pool. The preparation is held mid-way here;
    /healthz must answer meanwhile (it would wait forever if preparation ran on the loop)."""
    import registry.verify.verifier as service  # where the service's verifier prepares documents

    gate = threading.Event()
    entered = threading.Event()
    threads: list[str] = []
    real = service.prepare_document

    def held(*args: Any, **kw: Any) -> Any:
        threads.append(threading.current_thread().name)
        entered.set()
        gate.wait(30)
        return real(*args, **kw)

    monkeypatch.setattr(service, "prepare_document", held)
    settings = service_settings(tmp_path)
    big = json.dumps(self_anchored(credential("Large", padding=900_000))).encode()
    with serve(create_app(settings, follow=False), settings) as (url, _):
        out: dict[str, httpx.Response] = {}
        t = threading.Thread(
            target=lambda: out.setdefault(
                "r",
                httpx.post(
                    url + "/api/v1/verify",
                    content=big,
                    headers={"Content-Type": "application/json"},
                    timeout=60,
                ),
            )
        )
        t.start()
        try:
            assert entered.wait(30)
            assert httpx.get(url + "/healthz", timeout=10).status_code == 200
            assert "r" not in out  # the verification is still in progress
        finally:
            gate.set()
            t.join(60)
    assert out["r"].json()["status"] == "indeterminate"  # the node is down: it got to the chain read
    assert threads and threads[0] != "MainThread"

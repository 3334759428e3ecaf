"""Issue 14: the service's side of "when and why" and of the permanent link's stored copy.

A real uvicorn server on the session anvil: the JSON API carries ``status_detail``; an explanation
is read once and then kept (the node is not asked again); the stored copy is read bounded and only
when it matches the digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from verify_helpers import OTHER_ISSUER, Env, anchor_batch, make_credential, serve_app, wait_for

from registry.chain.anvil import Anvil
from registry.core.canonical import canonical_bytes
from registry.errors import ChainError
from registry.ipfs import LocalStore
from registry.settings import load_settings
from registry.verify.service import create_app
from registry.verify.stored import stored_document

JSON = {"Content-Type": "application/json"}


def _app(anvil: Anvil, env: Env, store: LocalStore) -> Any:
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], store_dir=store.root, cache_staleness=2.0
    )
    return create_app(settings)


def test_the_api_explains_once_and_keeps_it(anvil: Anvil, env: Env, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    b = anchor_batch(env, [make_credential("A"), make_credential("B")], store=store)
    env.tx(env.issuer, env.reg.functions.revokeCredentials([b.digests[0]], "kept reason"))
    app = _app(anvil, env, store)
    verifier = app.state.verifier
    with serve_app(app) as url:
        first = httpx.post(url + "/api/v1/verify", json=b.credentials[0], timeout=30).json()
        assert first["status"] == "revoked" and first["status_detail"]["reason"] == "kept reason"
        valid = httpx.post(url + "/api/v1/verify", json=b.credentials[1], timeout=30).json()
        assert valid["status"] == "valid" and valid["status_detail"] is None
        assert len(verifier.details._items) == 1  # only the revoked one was explained

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise ChainError("must not be asked again")

        verifier.reader.status_history = refuse
        again = httpx.post(url + "/api/v1/verify", json=b.credentials[0], timeout=30).json()
        assert again["status_detail"] == first["status_detail"]  # from the kept explanation
        assert wait_for(lambda: httpx.get(url + "/readyz").status_code == 200, timeout=20)
        digest = "0x" + b.digests[0].hex()
        by_digest = httpx.get(f"{url}/api/v1/credentials/{digest}", timeout=30).json()
        assert by_digest["status_detail"]["reason"] == "kept reason"


def test_an_unreadable_explanation_leaves_the_verdict(anvil: Anvil, env: Env, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    b = anchor_batch(env, [make_credential("A")], store=store)
    env.suspend([b.digests[0]])
    app = _app(anvil, env, store)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ChainError("node refuses eth_getLogs")

    app.state.verifier.reader.status_history = broken
    with serve_app(app) as url:
        res = httpx.post(url + "/api/v1/verify", json=b.credentials[0], timeout=30)
        assert res.status_code == 200
        assert res.json()["status"] == "suspended" and res.json()["status_detail"] is None


def test_the_link_of_an_impersonating_stored_copy_is_not_valid(
    anvil: Anvil, env: Env, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    env.register(OTHER_ISSUER, "Bar University", "https://bar.example")
    doc = make_credential("Mallory", issuer_id="https://mit.edu", issuer_name="MIT")
    forged = anchor_batch(env, [doc], issuer=OTHER_ISSUER, store=store)
    old = make_credential("Old", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z")
    expired = anchor_batch(env, [old], store=store)
    for body in (doc, old):
        store.put(canonical_bytes(body))
    with serve_app(_app(anvil, env, store)) as url:
        assert wait_for(lambda: httpx.get(url + "/readyz").status_code == 200, timeout=20)
        page = httpx.get(f"{url}/v/0x{forged.digests[0].hex()}?issuer={OTHER_ISSUER.address}", timeout=30)
        assert page.status_code == 200
        assert '"status":"invalid"' in page.text and '"recipient":"Mallory"' in page.text
        assert '"stored":""' in page.text
        gone = httpx.get(f"{url}/v/0x{expired.digests[0].hex()}", timeout=30)
        assert '"status":"expired"' in gone.text
        # the bare digest API stays the digest's own answer
        api = httpx.get(f"{url}/api/v1/credentials/0x{forged.digests[0].hex()}", timeout=30).json()
        assert api["status"] == "valid" and api["credential"] is None


def test_the_stored_copy_is_bounded_and_must_be_held(tmp_path: Path) -> None:
    import hashlib

    store = LocalStore(tmp_path / "store")
    small = b'{"a":1}'
    store.put(small)
    assert stored_document(store, hashlib.sha256(small).digest(), 100) == (small, None)
    big = b'{"a":"' + b"x" * 200 + b'"}'
    store.put(big)
    data, why = stored_document(store, hashlib.sha256(big).digest(), 100)
    assert data is None and why == "the stored copy is over 100 bytes"
    data, why = stored_document(store, hashlib.sha256(b"absent").digest(), 100)
    assert data is None and "does not hold" in str(why)
    assert stored_document(None, b"\0" * 32, 100) == (None, "this verifier has no content store")
    # a corrupted file is never returned
    path = store.path_for(store.put(b'{"b":2}'))
    path.write_bytes(b'{"b":3}')
    data, why = stored_document(store, hashlib.sha256(b'{"b":2}').digest(), 100)
    assert data is None and "could not be read" in str(why)


def test_a_stored_copy_that_is_not_the_document_is_not_shown(anvil: Anvil, env: Env, tmp_path: Path) -> None:
    """Bytes under the digest's CID that are not its canonical document (here: the same JSON with
    other whitespace, so another digest) fall back to the digest alone, and the page says why."""
    import json

    store = LocalStore(tmp_path / "store")
    doc = make_credential("Spaced")
    b = anchor_batch(env, [doc], store=store)
    loose = json.dumps(doc, indent=1).encode()  # not canonical: its own CID, not the digest's
    path = store.path_for(store.put(canonical_bytes(doc)))
    path.write_bytes(loose)  # the file under the digest's CID now holds other bytes
    with serve_app(_app(anvil, env, store)) as url:
        assert wait_for(lambda: httpx.get(url + "/readyz").status_code == 200, timeout=20)
        page = httpx.get(f"{url}/v/0x{b.digests[0].hex()}", timeout=30).text
        assert '"status":"valid"' in page and '"credential":null' in page
        assert "could not be read" in page  # the store's own integrity check refused the bytes

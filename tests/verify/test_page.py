"""The web page in headless Chromium (Debian's chromium driven by Playwright): what a person sees."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from verify_helpers import Batch, Env, anchor_batch, make_credential, serve_app, wait_for, write_json

from registry.chain.anvil import Anvil
from registry.settings import load_settings
from registry.verify.service import create_app

CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def site(anvil: Anvil, env: Env) -> Iterator[str]:
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], cache_staleness=2.0)
    with serve_app(create_app(settings)) as url:
        yield url


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1000, "height": 1300})
    pg = ctx.new_page()
    blocked: list[str] = []

    def only_the_site(route: Any) -> None:
        if route.request.url.startswith(site):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_the_site)
    pg.goto(site + "/")
    try:
        yield pg
    finally:
        assert blocked == []  # self-contained: nothing but the verifier itself was requested
        ctx.close()


def _choose(page: Page, path: Path) -> dict[str, Any]:
    before = int(page.get_attribute("body", "data-done") or 0)
    page.set_input_files("#file", str(path))
    page.wait_for_selector(f'body[data-done="{before + 1}"]', state="attached", timeout=20000)
    checks = {}
    for li in page.query_selector_all("#checks li"):
        checks[li.get_attribute("data-check")] = {
            "status": li.get_attribute("data-status"),
            "text": li.inner_text(),
        }
    return {
        "verdict": page.inner_text("#verdict-title"),
        "status": page.get_attribute("#verdict", "data-status"),
        "summary": page.inner_text("#summary"),
        "issuer": page.inner_text("#issuer-name"),
        "anchored": page.inner_text("#anchored-at"),
        "tx": page.inner_text("#tx"),
        "checks": checks,
        "visible": page.is_visible("#result"),
    }


def test_page_shows_each_verdict(page: Page, env: Env, batch: Batch, tmp_path: Path) -> None:
    expired = anchor_batch(
        env, [make_credential("Old", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z")]
    )
    env.revoke([batch.digests[1]])
    env.suspend([batch.digests[2]])
    tampered = copy.deepcopy(batch.credentials[0])
    tampered["credentialSubject"]["achievement"]["grade"] = "A+"

    valid = _choose(page, write_json(tmp_path / "valid.json", batch.credentials[0]))
    assert valid["visible"] and valid["status"] == "valid" and valid["verdict"] == "Valid"
    assert valid["issuer"] == "Example University"
    assert valid["tx"] == batch.tx_hash
    assert "UTC" in valid["anchored"]
    assert len(valid["checks"]) == 13
    assert valid["checks"].pop("signature")["status"] == "skipped"  # unsigned
    status = valid["checks"].pop("credential_status")  # no credentialStatus
    assert status["status"] == "skipped" and "Status lists" in status["text"]
    assert all(c["status"] == "passed" for c in valid["checks"].values())
    assert "Issuer bound to its identifier" in valid["checks"]["issuer_binding"]["text"]
    assert "Anchored on chain" in valid["checks"]["anchored"]["text"]
    assert "confirmations" in valid["checks"]["anchored"]["text"]
    page.screenshot(path=str(tmp_path / "valid.png"), full_page=True)
    shot_dir = os.environ.get("REGISTRY_SCREENSHOT_DIR")
    if shot_dir:
        page.screenshot(path=str(Path(shot_dir) / "verify-page-valid.png"), full_page=True)

    bad = _choose(page, write_json(tmp_path / "tampered.json", tampered))
    assert bad["status"] == "invalid" and bad["verdict"] == "Not valid"
    assert bad["checks"]["integrity"]["status"] == "failed"
    assert "changed after it was issued" in bad["checks"]["integrity"]["text"]

    revoked = wait_for(
        lambda: (
            _choose(page, write_json(tmp_path / "revoked.json", batch.credentials[1]))["status"] == "revoked"
        ),
        timeout=20,
    )
    assert revoked
    r = _choose(page, write_json(tmp_path / "revoked.json", batch.credentials[1]))
    assert r["verdict"] == "Revoked" and r["checks"]["credential_not_revoked"]["status"] == "failed"
    assert "revoked this credential" in r["checks"]["credential_not_revoked"]["text"]

    s = _choose(page, write_json(tmp_path / "suspended.json", batch.credentials[2]))
    assert s["status"] == "suspended" and s["verdict"] == "Suspended"
    assert "suspended" in s["checks"]["credential_not_suspended"]["text"]

    e = _choose(page, write_json(tmp_path / "expired.json", expired.credentials[0]))
    assert e["status"] == "expired" and e["verdict"] == "Expired"
    assert "expired on 2021-01-01" in e["checks"]["validity_window"]["text"]
    if shot_dir:
        page.screenshot(path=str(Path(shot_dir) / "verify-page-expired.png"), full_page=True)


def test_page_accepts_a_dropped_file(page: Page, batch: Batch) -> None:
    text = json.dumps(batch.credentials[3])
    page.evaluate(
        """(text) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], "dropped.json", { type: "application/json" }));
            const drop = document.getElementById("drop");
            const init = { dataTransfer: dt, bubbles: true, cancelable: true };
            drop.dispatchEvent(new DragEvent("dragover", init));
            drop.dispatchEvent(new DragEvent("drop", init));
        }""",
        text,
    )
    page.wait_for_selector('body[data-done="1"]', state="attached", timeout=20000)
    assert page.get_attribute("#verdict", "data-status") == "valid"
    assert page.inner_text("#filename") == "dropped.json"


def test_page_explains_unreadable_files(page: Page, tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("this is not a credential")
    r = _choose(page, p)
    assert r["status"] == "invalid"
    assert r["checks"]["format"]["status"] == "failed"
    assert "not a credential this verifier can read" in r["checks"]["format"]["text"]


def test_api_docs_page_is_self_contained(browser: Browser, site: str) -> None:
    ctx = browser.new_context()
    requested: list[str] = []
    ctx.on("request", lambda req: requested.append(req.url))
    page = ctx.new_page()
    page.goto(site + "/docs")
    page.wait_for_selector('body[data-loaded="1"]', state="attached", timeout=20000)
    ops = [e.get_attribute("data-op") for e in page.query_selector_all("section.op")]
    assert "POST /api/v1/verify" in ops and "GET /api/v1/batches/{root}" in ops
    assert all(u.startswith(site) for u in requested), requested
    ctx.close()


def test_page_shows_what_the_document_claims_beside_the_registered_issuer(
    page: Page, env: Env, tmp_path: Path
) -> None:
    from verify_helpers import OTHER_ISSUER

    env.register(OTHER_ISSUER, "Bar University", "https://bar.example")
    doc = make_credential(
        "Mallory", issuer_id="https://mit.edu", issuer_name="Massachusetts Institute of Technology"
    )
    forged = anchor_batch(env, [doc], issuer=OTHER_ISSUER)
    seen = _choose(page, write_json(tmp_path / "forged.json", forged.credentials[0]))
    assert seen["status"] == "invalid" and seen["issuer"] == "Bar University"
    assert page.inner_text("#issuer-claimed") == "Massachusetts Institute of Technology (https://mit.edu)"
    assert (
        seen["checks"]["issuer_binding"]["status"] == "failed"
        and "https://mit.edu" in seen["checks"]["issuer_binding"]["text"]
    )



def test_page_shows_the_credential_with_markup_as_text(
    browser: Browser, anvil: Anvil, env: Env, tmp_path: Path
) -> None:
    from registry.ipfs import LocalStore

    store = LocalStore(tmp_path / "store")
    script = '<script>document.title="pwned"</script><img src=x onerror="document.title=1">'
    doc = make_credential(script + " Ada", course="<b>Crypto</b>" + script)
    cred = anchor_batch(env, [doc], store=store).credentials[0]
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], store_dir=store.root, cache_staleness=2.0
    )
    with serve_app(create_app(settings)) as site:
        ctx = browser.new_context(viewport={"width": 1000, "height": 1300})
        requested: list[str] = []
        ctx.on("request", lambda req: requested.append(req.url))
        page = ctx.new_page()
        page.goto(site + "/")
        seen = _choose(page, write_json(tmp_path / "markup.json", cred))
        assert seen["status"] == "valid"
        assert page.inner_text('#credential dd[data-field="recipient"]') == script + " Ada"
        assert page.inner_text('#credential dd[data-field="achievement"]') == "<b>Crypto</b>" + script
        assert page.query_selector("#credential script, #credential img, #credential b") is None
        assert page.title() == "Verify a credential"
        assert page.inner_text("#issuer-uri") == "https://example.edu"
        link = page.inner_text("#link-url")
        assert link.startswith(site + "/v/0x") and "?issuer=" in link
        page.wait_for_function("document.getElementById('qr').complete", timeout=10000)
        assert page.evaluate("document.getElementById('qr').naturalWidth") > 0
        shot_dir = os.environ.get("REGISTRY_SCREENSHOT_DIR")
        page.screenshot(path=str(Path(shot_dir or tmp_path) / "verify-page-markup.png"), full_page=True)
        assert wait_for(lambda: httpx.get(site + "/readyz").status_code == 200, timeout=20)
        page.goto(link)  # the permanent link: the same verdict, verified again through the index
        page.wait_for_selector('body[data-loaded="1"]', state="attached", timeout=20000)
        assert page.get_attribute("#verdict", "data-status") == "valid"
        assert page.inner_text("#issuer-name") == "Example University"
        assert page.is_visible("#qr") and page.inner_text("#link-url") == link
        assert page.title() == "Verify a credential"
        assert all(u.startswith(site) for u in requested), requested
        ctx.close()

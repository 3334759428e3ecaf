"""The page's bulk section in headless Chromium (Debian's chromium, Playwright): several files
dropped and a ZIP chosen give one table; the CSV export is made in the page from those rows."""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from verify_helpers import Batch, Env, serve_app, wait_for

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
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, anvil: Anvil, env: Env) -> Iterator[Page]:
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], cache_staleness=2.0)
    with serve_app(create_app(settings)) as site:
        ctx = browser.new_context(viewport={"width": 1100, "height": 1400}, accept_downloads=True)
        pg = ctx.new_page()
        blocked: list[str] = []

        def only_the_site(route: Any) -> None:
            if route.request.url.startswith(site):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        ctx.route("**/*", only_the_site)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(site + "/")
        pg.wait_for_selector('body[data-loaded="1"]', state="attached")
        try:
            yield pg
        finally:
            assert blocked == [] and errors == []  # self-contained; no script error (CSP included)
            ctx.close()


def _wait(page: Page, before: int) -> None:
    page.wait_for_selector(f'body[data-bulk-done="{before + 1}"]', state="attached", timeout=60000)


def _done(page: Page) -> int:
    return int(page.get_attribute("body", "data-bulk-done") or 0)


def _drop(page: Page, files: list[tuple[str, bytes, str]], zone: str = "#bulk-drop") -> None:
    """Drop ``files`` (name, bytes, type) on a drop zone, as a person's drag and drop does."""
    items = [{"name": n, "b64": base64.b64encode(d).decode(), "type": t} for n, d, t in files]
    transfer = page.evaluate_handle(
        """(items) => {
            const dt = new DataTransfer();
            for (const it of items) {
                const bytes = Uint8Array.from(atob(it.b64), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], it.name, {type: it.type}));
            }
            return dt;
        }""",
        items,
    )
    page.dispatch_event(zone, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(zone, "drop", {"dataTransfer": transfer})


def _table(page: Page) -> list[dict[str, str]]:
    out = []
    for tr in page.query_selector_all("#bulk-rows tr"):
        row = {"status": tr.get_attribute("data-status") or ""}
        for td in tr.query_selector_all("td"):
            row[td.get_attribute("data-col") or ""] = td.inner_text()
        out.append(row)
    return out


def _export_csv(page: Page) -> list[dict[str, str]]:
    with page.expect_download() as info:
        page.click("#bulk-csv")
    download = info.value
    assert download.suggested_filename == "verification.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_bulk_drop_and_zip(page: Page, env: Env, batch: Batch, tmp_path: Path) -> None:
    tampered = copy.deepcopy(batch.credentials[2])
    tampered["credentialSubject"]["achievement"]["name"] = XSS  # changed: not genuine, and hostile text
    env.revoke([batch.digests[3]])
    dropped = [
        ("first.json", json.dumps(batch.credentials[0]).encode(), "application/json"),
        ("second.json", json.dumps(batch.credentials[1]).encode(), "application/json"),
        ("tampered.json", json.dumps(tampered).encode(), "application/json"),
    ]
    before = _done(page)
    _drop(page, dropped)
    _wait(page, before)
    rows = _table(page)
    assert [(r["file"], r["status"], r["verdict"]) for r in rows] == [
        ("first.json", "valid", "Valid"),
        ("second.json", "valid", "Valid"),
        ("tampered.json", "invalid", "Not valid"),
    ]
    assert rows[0]["issuer"] == "Example University" and rows[0]["digest"] == "0x" + batch.digests[0].hex()
    assert rows[2]["achievement"] == XSS  # shown as text
    assert rows[2]["failure"].startswith("integrity: ")
    assert page.evaluate("window.__pwned") is None and page.query_selector("#bulk-rows img") is None
    assert page.inner_text("#bulk-summary") == "2 of 3 credentials valid"

    exported = _export_csv(page)
    assert [(r["file"], r["verdict"]) for r in exported] == [
        ("first.json", "valid"),
        ("second.json", "valid"),
        ("tampered.json", "invalid"),
    ]
    assert exported[2]["achievement"] == XSS
    assert exported[2]["failed_check"] == "integrity" and exported[0]["digest"] == rows[0]["digest"]
    page.screenshot(path=str(tmp_path / "bulk-drop.png"), full_page=True)

    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("certs/a.json", json.dumps(batch.credentials[0]))
        zf.writestr("certs/revoked.json", json.dumps(batch.credentials[3]))
        zf.writestr("certs/inner.zip", b"PK\x03\x04 nested")
        zf.writestr("README.txt", "not a credential")

    def choose_zip() -> list[dict[str, str]]:
        n = _done(page)
        page.set_input_files("#bulk-files", str(archive))
        _wait(page, n)
        return _table(page)

    assert wait_for(lambda: [r["status"] for r in choose_zip()] == ["valid", "revoked", "error"], timeout=30)
    rows = _table(page)
    assert [r["file"] for r in rows] == [
        "bundle.zip/certs/a.json",
        "bundle.zip/certs/revoked.json",
        "bundle.zip/certs/inner.zip",
    ]
    assert rows[1]["verdict"] == "Revoked" and rows[1]["failure"].startswith("credential_not_revoked: ")
    assert "nested ZIP" in rows[2]["failure"]
    assert "1 of 3 credentials valid" in page.inner_text("#bulk-summary")
    assert "1 file in archives skipped" in page.inner_text("#bulk-summary")
    exported = _export_csv(page)
    assert [r["verdict"] for r in exported] == ["valid", "revoked", "error"]
    with page.expect_download() as info:
        page.click("#bulk-json")
    as_json = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert [r["status"] for r in as_json] == ["valid", "revoked", "error"]
    assert as_json[1]["result"]["status"] == "revoked"
    page.screenshot(path=str(tmp_path / "bulk-zip.png"), full_page=True)
    shots = os.environ.get("REGISTRY_SCREENSHOT_DIR")
    if shots:
        page.screenshot(path=str(Path(shots) / "verify-page-bulk.png"), full_page=True)


def test_several_files_on_the_single_file_zone_go_to_the_table(page: Page, batch: Batch) -> None:
    before = _done(page)
    two = [(f"{i}.json", json.dumps(batch.credentials[i]).encode(), "application/json") for i in range(2)]
    _drop(page, two, zone="#drop")
    _wait(page, before)
    assert [(r["file"], r["status"]) for r in _table(page)] == [("0.json", "valid"), ("1.json", "valid")]
    assert page.get_attribute("body", "data-done") is None  # the single-file view did not run
    assert page.is_hidden("#result")
    one = [("only.json", json.dumps(batch.credentials[2]).encode(), "application/json")]
    _drop(page, one, zone="#drop")  # one credential file: the single-file view, as before
    page.wait_for_selector('body[data-done="1"]', state="attached", timeout=20000)
    assert page.get_attribute("#verdict", "data-status") == "valid" and page.is_visible("#result")
    assert _done(page) == before + 1  # the table was not touched

"""Issue 14, items 1, 2 and 6: what a person sees on the page, in headless Chromium.

The right fields for a valid, revoked (when and why), suspended, expired, impersonating and
tampered credential and a revoked batch; markup in fields and reasons shown as text; "Replaced
by" leading to the replacement's permanent link; the permanent link showing the stored document's
summary; its QR code decoded (zxing-cpp) to the link, which gives the same verdict; the page at
phone width. Screenshots go to ``$REGISTRY_TEST_ARTIFACTS`` (default ``test-artifacts/`` in the
repository); with ``REGISTRY_README_SHOTS=<folder>`` the README's screenshots are written there.
"""

from __future__ import annotations

import copy
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from test_page import _choose, browser  # noqa: F401 (the module's browser fixture)
from verify_helpers import OTHER_ISSUER, Env, anchor_batch, make_credential, serve_app, wait_for, write_json

from registry.chain.anvil import Anvil
from registry.core.formats import format_timestamp
from registry.settings import load_settings
from registry.verify.service import create_app

ARTIFACTS = Path(
    os.environ.get("REGISTRY_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
)
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1000, "height": 1300}


def shot(page: Page, name: str, **kw: Any) -> Path:
    """A screenshot in the test artifacts folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), **kw)
    return path


@dataclass
class Site:
    """A verifier with a content store, and one credential of each case."""

    url: str
    env: Env
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    times: dict[str, str] = field(default_factory=dict)


def _when(env: Env, receipt: Any) -> str:
    ts = int(env.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    return format_timestamp(ts).replace("T", " ").replace("Z", " UTC")


@pytest.fixture
def site(anvil: Anvil, env: Env, tmp_path: Path) -> Iterator[Site]:
    from registry.ipfs import LocalStore

    store = LocalStore(tmp_path / "store")
    env.register(OTHER_ISSUER, "Bar University", "https://bar.example")
    main = anchor_batch(
        env,
        [
            make_credential("Grace Hopper", course="Compilers"),
            make_credential("Revoked Holder", course="Networks"),
            make_credential("Suspended Holder", course="Databases"),
            make_credential("Old Name", course="Algorithms"),
            make_credential("New Name", course="Algorithms"),
        ],
        store=store,
    )
    expired = anchor_batch(
        env,
        [make_credential("Past", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z")],
        store=store,
    )
    forged = anchor_batch(
        env,
        [
            make_credential(
                "Mallory", issuer_id="https://mit.edu", issuer_name="Massachusetts Institute of Technology"
            )
        ],
        issuer=OTHER_ISSUER,
        store=store,
    )
    doomed = anchor_batch(env, [make_credential("Batch Holder")], store=store)
    from registry.core.canonical import canonical_bytes

    for b in (main, expired, forged, doomed):  # the pipeline keeps each credential's canonical body
        for body in b.bare:
            store.put(canonical_bytes(body))
    d = main.digests
    s = Site("", env)
    s.times["revoked"] = _when(
        env, env.tx(env.issuer, env.reg.functions.revokeCredentials([d[1]], "degree withdrawn"))
    )
    s.times["suspended"] = _when(env, env.tx(env.issuer, env.reg.functions.suspendCredentials([d[2]])))
    replaced = f"replaced by 0x{d[4].hex()}: the holder's name was corrected"
    s.times["replaced"] = _when(
        env, env.tx(env.issuer, env.reg.functions.revokeCredentials([d[3]], replaced))
    )
    s.times["batch"] = _when(
        env, env.tx(env.issuer, env.reg.functions.revokeBatch(doomed.root, "wrong list"))
    )
    tampered = copy.deepcopy(main.credentials[0])
    tampered["credentialSubject"]["name"] = "Grace Hopper PhD"
    s.docs = {
        "valid": main.credentials[0],
        "revoked": main.credentials[1],
        "suspended": main.credentials[2],
        "replaced": main.credentials[3],
        "replacement": main.credentials[4],
        "expired": expired.credentials[0],
        "impersonating": forged.credentials[0],
        "tampered": tampered,
        "batch": doomed.credentials[0],
    }
    s.digests = {"valid": "0x" + d[0].hex(), "revoked": "0x" + d[1].hex(), "replacement": "0x" + d[4].hex()}
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], store_dir=store.root, cache_staleness=2.0
    )
    with serve_app(create_app(settings)) as url:
        s.url = url
        assert wait_for(lambda: httpx.get(url + "/readyz").status_code == 200, timeout=30)
        yield s


@pytest.fixture
def ctx_page(browser: Browser, site: Site) -> Iterator[Page]:  # noqa: F811 (the imported fixture)
    ctx = browser.new_context(viewport=DESKTOP)
    blocked: list[str] = []

    def only_the_site(route: Any) -> None:
        if route.request.url.startswith(site.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_the_site)
    pg = ctx.new_page()
    pg.goto(site.url + "/")
    try:
        yield pg
    finally:
        assert blocked == []
        ctx.close()


def _fields(page: Page) -> dict[str, str]:
    return {
        str(dd.get_attribute("data-field")): dd.inner_text()
        for dd in page.query_selector_all("#credential dd[data-field]")
    }


def _seen(page: Page) -> dict[str, Any]:
    return {
        "status": page.get_attribute("#verdict", "data-status"),
        "verdict": page.inner_text("#verdict-title"),
        "detail": page.inner_text("#status-detail") if page.is_visible("#status-detail") else None,
        "replaced": page.is_visible("#replaced"),
        "fields": _fields(page),
        "issuer": page.inner_text("#issuer-name"),
        "checks": {
            li.get_attribute("data-check"): li.get_attribute("data-status")
            for li in page.query_selector_all("#checks li")
        },
    }


def _upload(page: Page, site: Site, case: str, tmp_path: Path) -> dict[str, Any]:
    _choose(page, write_json(tmp_path / f"{case}.json", site.docs[case]))
    return _seen(page)


def test_each_case_shows_its_fields(ctx_page: Page, site: Site, tmp_path: Path) -> None:
    page = ctx_page
    v = _upload(page, site, "valid", tmp_path)
    assert v["status"] == "valid" and v["detail"] is None and not v["replaced"]
    assert v["fields"]["recipient"] == "Grace Hopper" and v["fields"]["achievement"] == "Compilers"
    assert v["fields"]["issuer-claimed-name"] == "Example University" and v["issuer"] == "Example University"
    shot(page, "page-valid.png", full_page=True)

    r = _upload(page, site, "revoked", tmp_path)
    assert r["status"] == "revoked" and r["verdict"] == "Revoked"
    assert r["detail"] == f"Revoked on {site.times['revoked']}: degree withdrawn"
    assert r["fields"]["recipient"] == "Revoked Holder" and not r["replaced"]
    shot(page, "page-revoked.png", full_page=True)

    s = _upload(page, site, "suspended", tmp_path)
    assert s["status"] == "suspended" and s["detail"] == f"Suspended on {site.times['suspended']}"
    assert s["fields"]["recipient"] == "Suspended Holder"

    e = _upload(page, site, "expired", tmp_path)
    assert e["status"] == "expired" and e["detail"] is None
    assert (
        e["fields"]["valid-until"] == "2021-01-01 00:00:00 UTC" and e["checks"]["validity_window"] == "failed"
    )

    i = _upload(page, site, "impersonating", tmp_path)
    assert i["status"] == "invalid" and i["issuer"] == "Bar University"
    assert i["fields"]["issuer-claimed-name"] == "Massachusetts Institute of Technology"
    assert i["fields"]["issuer-claimed-id"] == "https://mit.edu"
    assert i["checks"]["issuer_binding"] == "failed"
    shot(page, "page-impersonating.png", full_page=True)

    t = _upload(page, site, "tampered", tmp_path)
    assert t["status"] == "invalid" and t["checks"]["integrity"] == "failed"
    assert t["fields"]["recipient"] == "Grace Hopper PhD"  # what the altered document says
    assert t["detail"] is None

    b = _upload(page, site, "batch", tmp_path)
    assert b["status"] == "revoked"
    assert b["detail"] == f"The whole batch was revoked on {site.times['batch']}: wrong list"


def test_replaced_by_leads_to_the_replacement(ctx_page: Page, site: Site, tmp_path: Path) -> None:
    page = ctx_page
    r = _upload(page, site, "replaced", tmp_path)
    new = site.digests["replacement"]
    assert r["status"] == "revoked" and r["replaced"]
    assert r["detail"] == f"Revoked on {site.times['replaced']}"  # the reason is the line below
    assert page.inner_text("#replaced") == f"Replaced by {new} \u2014 the holder's name was corrected"
    href = page.get_attribute("#replaced-link", "href")
    assert href == f"{site.url}/v/{new}?issuer={site.env.issuer.address}"
    page.click("#replaced-link")
    page.wait_for_url(href)
    page.wait_for_selector('body[data-loaded="1"]', state="attached")
    seen = _seen(page)
    assert not page.is_visible("#stored-missing")
    assert seen["status"] == "valid" and seen["fields"]["recipient"] == "New Name"  # the stored copy


def test_the_permanent_link_shows_the_stored_document(ctx_page: Page, site: Site) -> None:
    page = ctx_page
    page.goto(f"{site.url}/v/{site.digests['revoked']}")
    page.wait_for_selector('body[data-loaded="1"]', state="attached")
    seen = _seen(page)
    assert seen["status"] == "revoked" and seen["fields"]["recipient"] == "Revoked Holder"
    assert seen["detail"] == f"Revoked on {site.times['revoked']}: degree withdrawn"
    assert seen["checks"]["issuer_binding"] == "passed"  # the stored copy's issuer is checked too
    assert seen["checks"]["signature"] == "skipped"
    assert "stored copy" in page.inner_text('#checks li[data-check="signature"]')
    assert not page.is_visible("#stored-missing")
    # a digest whose document the store does not hold: said so, the registry's record still shown
    from registry.core.canonical import document_digest

    other = make_credential("Not stored")
    lone = anchor_batch(site.env, [other])  # its manifest is not in the store either
    page.goto(f"{site.url}/v/0x{document_digest(other).hex()}")
    page.wait_for_selector('body[data-loaded="1"]', state="attached")
    assert lone.digests and page.is_visible("#stored-missing")
    assert "does not hold this document" in page.inner_text("#stored-missing")


def test_markup_in_a_reason_is_text(ctx_page: Page, site: Site, tmp_path: Path) -> None:
    page = ctx_page
    doc = make_credential("Markup")
    b = anchor_batch(site.env, [doc])
    reason = '<img src=x onerror="document.title=1"><script>document.title="pwned"</script>\u202e<b>x</b>'
    site.env.tx(site.env.issuer, site.env.reg.functions.revokeCredentials([b.digests[0]], reason))
    _choose(page, write_json(tmp_path / "m.json", b.credentials[0]))
    text = page.inner_text("#status-detail")
    assert text.endswith(
        ': <img src=x onerror="document.title=1"><script>document.title="pwned"</script><b>x</b>'
    )
    assert page.query_selector("#verdict img, #verdict script, #verdict b") is None
    assert page.title() == "Verify a credential"


def _decode_qr(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return str(found[0].text)


def test_the_qr_code_decodes_to_the_link_with_the_same_verdict(
    ctx_page: Page, site: Site, tmp_path: Path
) -> None:
    page = ctx_page
    _upload(page, site, "revoked", tmp_path)
    page.wait_for_function(
        "document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 0"
    )
    link = page.inner_text("#link-url")
    png = page.locator("#qr").screenshot()
    (ARTIFACTS / "page-qr.png").parent.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "page-qr.png").write_bytes(png)
    decoded = _decode_qr(png)
    assert decoded == link == f"{site.url}/v/{site.digests['revoked']}?issuer={site.env.issuer.address}"
    page.goto(decoded)
    page.wait_for_selector('body[data-loaded="1"]', state="attached")
    seen = _seen(page)
    assert (
        seen["status"] == "revoked"
        and seen["detail"] == f"Revoked on {site.times['revoked']}: degree withdrawn"
    )
    # on the link page the QR code is the link itself again
    assert _decode_qr(page.locator("#qr").screenshot()) == decoded


def _fits(page: Page) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    for sel in ("#verdict-title", "#summary", "#credential dd[data-field=recipient]", "#issuer-name"):
        box = page.locator(sel).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], sel


def test_the_page_is_usable_at_phone_width(browser: Browser, site: Site, tmp_path: Path) -> None:  # noqa: F811
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        page.goto(site.url + "/")
        page.wait_for_selector('body[data-loaded="1"]', state="attached")
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        _choose(page, write_json(tmp_path / "phone.json", site.docs["replaced"]))
        assert (
            page.is_visible("#verdict-title")
            and page.is_visible("#status-detail")
            and page.is_visible("#replaced")
        )
        _fits(page)
        shot(page, "page-phone-upload.png", full_page=True)
        page.goto(f"{site.url}/v/{site.digests['valid']}")
        page.wait_for_selector('body[data-loaded="1"]', state="attached")
        assert page.get_attribute("#verdict", "data-status") == "valid"
        _fits(page)
        assert page.locator("#qr").bounding_box()["width"] > 100  # type: ignore[index]
        shot(page, "page-phone-link.png", full_page=True)
    finally:
        ctx.close()


def test_readme_screenshots(browser: Browser, site: Site, tmp_path: Path) -> None:  # noqa: F811
    """The README's screenshots: the top of the page (verdict, both columns), 1000 px wide, in 256
    colours; written to ``REGISTRY_README_SHOTS`` when it names a folder (docs/img)."""
    from PIL import Image

    ctx = browser.new_context(viewport={"width": 1000, "height": 900})
    page = ctx.new_page()
    out = os.environ.get("REGISTRY_README_SHOTS")
    try:
        page.goto(site.url + "/")
        for case, name in (("valid", "verify-valid.png"), ("revoked", "verify-revoked.png")):
            _choose(page, write_json(tmp_path / f"{case}.json", site.docs[case]))
            assert page.get_attribute("#verdict", "data-status") == case
            png = page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": 1000, "height": 1000})
            img = Image.open(io.BytesIO(png)).convert("RGB").quantize(256)
            assert img.size == (1000, 1000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for folder in [ARTIFACTS] + ([Path(out)] if out else []):
                folder.mkdir(parents=True, exist_ok=True)
                img.save(folder / name, optimize=True)
    finally:
        ctx.close()

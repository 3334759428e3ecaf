"""The page in headless Chromium with the documents people keep: a certificate PDF and a baked PNG
and SVG badge dropped on it verify, and the PDF's QR code, decoded, opens the same verdict."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import httpx
import zxingcpp
from playwright.sync_api import Browser, Page, sync_playwright
from pypdf import PdfReader
from verify_helpers import Env, anchor_batch, make_credential, serve_app, wait_for

from registry.chain.anvil import Anvil
from registry.core.anchor_suite import decode_anchor_proof
from registry.keepsakes.badge import baked_badge
from registry.keepsakes.pdf import certificate_pdf
from registry.settings import load_settings
from registry.verify.qr import verification_link
from registry.verify.service import create_app

CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
MIME = {"pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml"}


def _drop(page: Page, name: str, data: bytes) -> dict[str, str]:
    """Drop ``data`` as a file called ``name`` on the page; the verdict and summary shown."""
    before = int(page.get_attribute("body", "data-done") or 0)
    page.evaluate(
        """([name, type, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type }));
            const drop = document.getElementById("drop");
            const init = { dataTransfer: dt, bubbles: true, cancelable: true };
            drop.dispatchEvent(new DragEvent("dragover", init));
            drop.dispatchEvent(new DragEvent("drop", init));
        }""",
        [name, MIME[name.rsplit(".", 1)[1]], base64.b64encode(data).decode()],
    )
    page.wait_for_selector(f'body[data-done="{before + 1}"]', state="attached", timeout=20000)
    return {
        "status": page.get_attribute("#verdict", "data-status") or "",
        "summary": page.inner_text("#summary"),
        "error": page.inner_text("#error") if page.is_visible("#error") else "",
        "issuer": page.inner_text("#issuer-name"),
    }


def test_dropped_pdf_and_badges_verify_and_the_qr_code_opens_the_verdict(
    anvil: Anvil, env: Env, tmp_path: Path
) -> None:
    from registry.ipfs import LocalStore

    store = LocalStore(tmp_path / "store")
    cred = anchor_batch(env, [make_credential("Zoë Иванова")], store=store).credentials[0]
    data = json.dumps(cred, ensure_ascii=False).encode()
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], store_dir=store.root, cache_staleness=2.0
    )
    shots = Path(os.environ.get("REGISTRY_SCREENSHOT_DIR") or tmp_path)
    with serve_app(create_app(settings)) as site, sync_playwright() as p:
        proof = decode_anchor_proof(cred["proof"][-1])
        link = verification_link(site, proof.digest, proof.issuer)
        pdf = certificate_pdf(data, link)
        browser: Browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1000, "height": 1300})
            requested: list[str] = []
            ctx.on("request", lambda req: requested.append(req.url))
            page = ctx.new_page()
            page.goto(site + "/")
            assert ".pdf" in (page.get_attribute("#file", "accept") or "")

            seen = _drop(page, "certificate.pdf", pdf)
            assert seen["status"] == "valid", seen
            assert "attached to the PDF as credential.json" in seen["summary"]
            assert seen["issuer"] == "Example University"
            page.screenshot(path=str(shots / "verify-page-pdf.png"), full_page=True)
            png = _drop(page, "badge.png", baked_badge(data, "png"))
            assert png["status"] == "valid" and "baked into the PNG image" in png["summary"]
            svg = _drop(page, "badge.svg", baked_badge(data, "svg"))
            assert svg["status"] == "valid" and "baked into the SVG image" in svg["summary"]

            cred["credentialSubject"]["name"] = "Someone Else"  # the embedded credential altered
            bad = _drop(page, "altered.pdf", certificate_pdf(json.dumps(cred).encode(), link))
            assert bad["status"] == "invalid"

            # the QR code printed on the certificate, decoded from the PDF's image, opens the verdict
            image = PdfReader(io.BytesIO(pdf)).pages[0].images[0].image
            decoded = [r.text for r in zxingcpp.read_barcodes(image)]
            assert decoded == [link]
            assert wait_for(lambda: httpx.get(site + "/readyz").status_code == 200, timeout=20)
            page.goto(decoded[0])
            page.wait_for_selector('body[data-loaded="1"]', state="attached", timeout=20000)
            assert page.get_attribute("#verdict", "data-status") == "valid"
            assert page.inner_text("#issuer-name") == "Example University"
            assert all(u.startswith(site) for u in requested), requested
            ctx.close()
        finally:
            browser.close()

"""The self-contained static pages of the service and their Content-Security-Policy."""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from functools import cache
from importlib import resources


@cache
def static_page(name: str = "index.html") -> tuple[bytes, str]:
    """A self-contained static page and its Content-Security-Policy (hashes of its inline code)."""
    html = resources.files("registry.verify").joinpath(f"static/{name}").read_bytes()
    scripts = re.findall(rb"<script>(.*?)</script>", html, re.S)
    styles = re.findall(rb"<style>(.*?)</style>", html, re.S)
    shas = " ".join(f"'sha256-{b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts)
    style_shas = " ".join(f"'sha256-{b64encode(hashlib.sha256(s).digest()).decode()}'" for s in styles)
    csp = (
        f"default-src 'none'; script-src {shas}; style-src {style_shas}; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, csp

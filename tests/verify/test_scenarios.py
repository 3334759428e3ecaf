"""Every case of the issue through the three doors: the JSON API, the CLI and the web page.

One registry on anvil holds all the cases (see ``build_scenarios``); each door must give the same
verdict the core gives. Chain down / garbage through each door are in test_api, test_cli and here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import newcomer_env
from playwright.sync_api import sync_playwright
from verify_helpers import Env, build_scenarios, garbage_node, serve_app, write_json

from registry.chain.anvil import Anvil, free_port
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.reader import ChainReader
from registry.verify.service import create_app

CASES = [
    "valid",
    "tampered_document",
    "tampered_proof",
    "revoked",
    "suspended",
    "reinstated",
    "batch_revoked",
    "issuer_suspended",
    "key_revoked_before_cutoff",
    "key_revoked_after_cutoff",
    "expired",
    "not_yet_valid",
    "legacy_proof_valid",
    "legacy_proof_revoked",
]
CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TITLES = {
    "valid": "Valid",
    "invalid": "Not valid",
    "revoked": "Revoked",
    "suspended": "Suspended",
    "expired": "Expired",
    "not_yet_valid": "Not yet valid",
    "indeterminate": "Cannot be checked right now",
}

JSON = {"Content-Type": "application/json"}  # the API takes JSON content types only


@pytest.fixture(scope="module")
def scenarios(anvil_w3: Any) -> tuple[Env, dict[str, tuple[dict[str, Any], str]]]:
    return build_scenarios(anvil_w3)


@pytest.fixture(scope="module")
def files(scenarios: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cases")
    return {name: write_json(d / f"{name}.json", doc) for name, (doc, _) in scenarios[1].items()}


@pytest.fixture(scope="module")
def site(anvil: Anvil, scenarios: Any) -> Iterator[str]:
    env = scenarios[0]
    with serve_app(create_app(load_settings(rpc_url=anvil.url, trusted_registries=[env.registry]))) as url:
        yield url


def test_cases_cover_the_issue(scenarios: Any) -> None:
    assert sorted(scenarios[1]) == sorted(CASES)


@pytest.mark.parametrize("name", CASES)
def test_core(name: str, anvil: Anvil, scenarios: Any) -> None:
    env, cases = scenarios
    doc, expected = cases[name]
    reader = ChainReader(anvil.url, [env.address])
    try:
        res = verify_credential(doc, reader, VerifyConfig(trusted=frozenset({(env.chain_id, env.address)})))
    finally:
        reader.close()
    assert res.status.value == expected, [(c.name, c.status.value, c.message) for c in res.checks]


@pytest.mark.parametrize("name", CASES)
def test_api(name: str, site: str, scenarios: Any) -> None:
    doc, expected = scenarios[1][name]
    r = httpx.post(site + "/api/v1/verify", content=json.dumps(doc), headers=JSON, timeout=30)
    assert r.status_code == 200
    assert r.json()["status"] == expected
    assert r.json()["verified"] is (expected == "valid")


@pytest.mark.parametrize("name", CASES)
def test_cli(name: str, anvil: Anvil, scenarios: Any, files: dict[str, Path]) -> None:
    env, cases = scenarios
    expected = cases[name][1]
    e = newcomer_env()
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "from registry.cli.main import run; run()",
            "verify",
            str(files[name]),
            "--rpc-url",
            anvil.url,
            "--trusted",
            env.registry,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=e,
        cwd=files[name].parent,
    )
    assert res.returncode == (0 if expected == "valid" else 1), res.stderr
    assert json.loads(res.stdout)["status"] == expected


def _page_verdicts(site: str, paths: dict[str, Path]) -> dict[str, tuple[str, str, str]]:
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(site + "/")
            for i, (name, path) in enumerate(paths.items(), start=1):
                page.set_input_files("#file", str(path))
                page.wait_for_selector(f'body[data-done="{i}"]', state="attached", timeout=30000)
                out[name] = (
                    page.get_attribute("#verdict", "data-status") or "",
                    page.inner_text("#verdict-title"),
                    page.inner_text("#checks"),
                )
        finally:
            browser.close()
    return out


def test_page(site: str, scenarios: Any, files: dict[str, Path]) -> None:
    seen = _page_verdicts(site, files)
    for name in CASES:
        expected = scenarios[1][name][1]
        status, title, checks = seen[name]
        assert status == expected, name
        assert title == TITLES[expected], name
        assert "Anchored on chain" in checks and "Validity period" in checks


@pytest.mark.parametrize("node", ["down", "garbage"])
def test_page_when_the_chain_cannot_be_read(node: str, scenarios: Any, files: dict[str, Path]) -> None:
    env = scenarios[0]

    def run(rpc: str) -> dict[str, tuple[str, str, str]]:
        s = load_settings(rpc_url=rpc, trusted_registries=[env.registry], rpc_timeout=3)
        with serve_app(create_app(s)) as url:
            return _page_verdicts(url, {"valid": files["valid"], "revoked": files["revoked"]})

    if node == "down":
        seen = run(f"http://127.0.0.1:{free_port()}")  # a closed port
    else:
        with garbage_node("garbage") as url:  # stands in for a broken node answering garbage JSON-RPC
            seen = run(url)
    for name in ("valid", "revoked"):
        status, title, checks = seen[name]
        assert status == "indeterminate" and title == TITLES["indeterminate"]
        assert "Could not read the chain" in checks

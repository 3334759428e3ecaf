"""Issue 10, items 15 and 16: no RPC credentials and no settings secrets in answers or logs;
413 for chunked multipart (see tests/verify/test_api.py); one log line per client disconnect."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import newcomer_env
from service_kit import (
    ROOT,
    credential,
    registry_serve,
    self_anchored,
    serve,
    serve_log,
    service_settings,
    stalled_node,
)

from registry.chain.anvil import free_port
from registry.errors import ConfigError
from registry.settings import load_settings
from registry.verify.service import create_app

SECRETS = ("PASSWORD_SECRET", "PATH_SECRET", "QUERY_SECRET", "keyuser")


def _secret_url(port: int) -> str:
    return f"http://keyuser:PASSWORD_SECRET@127.0.0.1:{port}/v3/PATH_SECRET?apikey=QUERY_SECRET"


class _Bad502(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@contextmanager
def _node(kind: str) -> Iterator[int]:
    """A chain node that is stalled, down, or answers HTTP 502; yields its port."""
    if kind == "stalled":
        with stalled_node() as port:
            yield port
    elif kind == "dead":
        yield free_port()
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Bad502)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("kind", ["stalled", "dead", "http502"])
def test_rpc_url_secrets_never_reach_answers_or_logs(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With REGISTRY_RPC_URL carrying an API key (userinfo, path, query) and the node stalled,
    down or failing, /readyz, check messages, 503 bodies and /metrics quoted the key."""
    caplog.set_level(logging.DEBUG)
    with _node(kind) as node_port:
        settings = service_settings(tmp_path, rpc_url=_secret_url(node_port), rpc_timeout=0.3)
        app = create_app(settings)
        reader = app.state.verifier.reader
        with serve(app, settings) as (url, _):
            deadline = time.monotonic() + 30
            while reader.last_error is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert reader.last_error is not None
            doc = json.dumps(self_anchored(credential("Leak")))
            with httpx.Client(base_url=url, timeout=30) as c:
                answers = [
                    c.get("/readyz"),
                    c.post("/api/v1/verify", content=doc, headers={"Content-Type": "application/json"}),
                    c.get("/api/v1/batches/0x" + "11" * 32),
                    c.get("/api/v1/issuers/0x" + "22" * 20),
                    c.get("/api/v1/credentials/0x" + "33" * 32),
                    c.get("/metrics"),
                ]
    ready = answers[0]
    assert ready.status_code == 503 and f"127.0.0.1:{node_port}" in ready.text  # names the node
    assert answers[1].status_code == 503 and answers[1].json()["status"] == "indeterminate"
    assert f"http://127.0.0.1:{node_port}" in answers[1].text
    texts = [r.text + json.dumps(dict(r.headers)) for r in answers]
    texts += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    texts += [caplog.text]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text[:300])


def test_cli_verify_does_not_print_the_rpc_secret(tmp_path: Path) -> None:
    doc = tmp_path / "cred.json"
    doc.write_text(json.dumps(self_anchored(credential("Cli"))))
    from service_kit import REGISTRY

    env = {**os.environ, "PYTHONPATH": str(ROOT), "REGISTRY_RPC_TIMEOUT": "0.5"}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "registry"),
            "verify",
            str(doc),
            "--json",
            "--trusted",
            REGISTRY,
            "--rpc-url",
            _secret_url(free_port()),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert "127.0.0.1" in proc.stdout
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr


TOML_SECRETS = (
    "keystore_password = 73914682\n"
    "private_key = 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d\n"
)
HEX_AS_DECIMAL = str(int("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d", 16))


def test_unquoted_secrets_in_registry_toml_are_never_echoed(tmp_path: Path, monkeypatch: Any) -> None:
    """A password of digits and a 0x key left unquoted are TOML integers: pydantic's error quoted
    them (the key as a decimal integer)."""
    toml = tmp_path / "registry.toml"
    toml.write_text(TOML_SECRETS + 'confirmations = "many"\n')
    monkeypatch.setenv("REGISTRY_CONFIG", str(toml))
    with pytest.raises(ConfigError) as info:
        load_settings()
    msg = str(info.value)
    assert "keystore_password must be a string" in msg and "private_key must be a string" in msg
    assert "quote it" in msg and "confirmations" in msg
    for secret in ("73914682", HEX_AS_DECIMAL, HEX_AS_DECIMAL[:12], "59c6995e", "many"):
        assert secret not in msg
    toml.write_text("keystore_password = hunter2secret\n")  # not TOML at all: position only
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "not valid TOML" in str(info.value) and "hunter2secret" not in str(info.value)


def test_cli_settings_error_is_one_line_without_the_secret(tmp_path: Path) -> None:
    (tmp_path / "registry.toml").write_text(TOML_SECRETS)
    env = newcomer_env()
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "registry"), "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: config_error: invalid settings:") and proc.stderr.count("\n") == 1
    for secret in ("73914682", HEX_AS_DECIMAL, "59c6995e"):
        assert secret not in proc.stderr + proc.stdout


def _abandon(port: int) -> None:
    """Start a POST, send part of its body, go away."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100000\r\n\r\n{"a": "' + b"x" * 5000
    )
    time.sleep(0.2)
    sock.close()


def test_client_disconnect_logs_one_line_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = service_settings(tmp_path)
    with serve(create_app(settings, follow=False), settings) as (_url, port):
        _abandon(port)
        deadline = time.monotonic() + 20
        while "client went away" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    lines = [r for r in caplog.records if "client went away" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    # and the real server prints no traceback either
    with registry_serve(tmp_path, {}) as (url, port):
        _abandon(port)
        time.sleep(1.0)
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
        log = serve_log(tmp_path, port)
    assert "Traceback" not in log and "Exception" not in log, log[-2000:]

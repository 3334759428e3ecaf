"""SMTP over TLS with AUTH against aiosmtpd with a trustme certificate: STARTTLS (required and
optional), implicit TLS, a wrong password (stops the run, never retried, never shown), an
untrusted certificate, a server without STARTTLS when it is required, and no AUTH in clear text."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
from delivery_kit import MAIL_FROM, PUBLIC_URL, SmtpServer, learner_badge, put_anchored

from registry.db import open_database
from registry.deliver.message import sender_address
from registry.deliver.run import Deliverer, DeliveryConfig
from registry.deliver.smtp import SmtpClient, SmtpConfig
from registry.deliver.template import MessageTemplate
from registry.errors import ErrorCode, SmtpError
from registry.settings import load_settings

PASSWORD = "s3cret-Passw0rd-do-not-print"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    return ctx


def deliver(tmp_path: Path, cfg: SmtpConfig, n: int = 2) -> tuple[list[str], object]:
    db = open_database(f"sqlite:///{tmp_path / 'registry.db'}")
    out = tmp_path / "proofs"
    digests = put_anchored(db, out, [learner_badge(i) for i in range(n)])
    try:
        report = Deliverer(
            db, SmtpClient(cfg), MessageTemplate.load(None), sender_address(MAIL_FROM),
            DeliveryConfig(out, PUBLIC_URL, rate=1000.0, max_attempts=2, backoff=0.0),
        ).run()  # fmt: skip
    finally:
        db.close()
    return digests, report


def config(port: int, tls: str, ca_file: Path | None, password: str = PASSWORD) -> SmtpConfig:
    secret = load_settings(smtp_password=password).smtp_password
    return SmtpConfig("127.0.0.1", port, tls, "registrar", secret, ca_file, timeout=10, helo="example.edu")


@pytest.mark.parametrize("mode", ["starttls", "starttls-optional"])
def test_starttls_with_auth(ca: trustme.CA, ca_file: Path, tmp_path: Path, mode: str) -> None:
    with SmtpServer(tls=server_context(ca), users={"registrar": PASSWORD}) as server:
        digests, report = deliver(tmp_path, config(server.port, mode, ca_file))
        assert report.sent == 2  # type: ignore[attr-defined]
        assert server.recorder.counts() == {d: 1 for d in digests}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # see delivery_kit: it is TLS
def test_implicit_tls_with_auth(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with SmtpServer(tls=server_context(ca), implicit=True, users={"registrar": PASSWORD}) as server:
        digests, report = deliver(tmp_path, config(server.port, "implicit", ca_file))
        assert report.sent == 2  # type: ignore[attr-defined]
        assert server.recorder.counts() == {d: 1 for d in digests}


def test_wrong_password_stops_the_run_and_is_never_shown(
    ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    with SmtpServer(tls=server_context(ca), users={"registrar": "the-right-one"}) as server:
        with pytest.raises(SmtpError) as info:
            deliver(tmp_path, config(server.port, "starttls", ca_file))
        assert not server.recorder.accepted
    assert info.value.code == ErrorCode.SMTP_AUTH_FAILED
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value.details)
    db = open_database(f"sqlite:///{tmp_path / 'registry.db'}")
    from registry.deliver import store

    assert store.summary(db)["counts"]["pending"] == 2  # nothing lost: sent by the next good run
    db.close()


def test_untrusted_certificate_is_refused(ca: trustme.CA, tmp_path: Path) -> None:
    with SmtpServer(tls=server_context(ca), users={"registrar": PASSWORD}) as server:
        with pytest.raises(SmtpError, match="not trusted"):
            deliver(tmp_path, config(server.port, "starttls", None))  # the system CAs do not know it
        assert not server.recorder.accepted


def test_required_starttls_missing_is_refused(tmp_path: Path) -> None:
    with SmtpServer() as server:  # plain server: no STARTTLS offered
        with pytest.raises(SmtpError, match="does not offer STARTTLS"):
            deliver(tmp_path, config(server.port, "starttls", None))
        assert not server.recorder.accepted


def test_no_password_over_plain_text_to_a_remote_host() -> None:
    cfg = SmtpConfig(
        "smtp.example.org", 25, "off", "registrar", load_settings(smtp_password=PASSWORD).smtp_password
    )
    with pytest.raises(SmtpError, match="unencrypted") as info:
        SmtpClient(cfg).send("a@example.edu", "b@example.org", b"x", lambda: None)
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(cfg) and PASSWORD not in repr(load_settings(smtp_password=PASSWORD))

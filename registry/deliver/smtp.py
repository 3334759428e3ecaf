"""One SMTP connection, reused from message to message, and what each answer means for delivery.

:meth:`SmtpClient.send` runs ``MAIL``, ``RCPT``, ``DATA``, sends the message body and then, *before
the end-of-data line*, calls ``before_end`` (the delivery commits ``sending`` there). Until the
final ``.`` is sent, the server throws the message away if the connection dies (RFC 5321 §4.1.1.4),
so anything that happens before ``before_end`` returned is safe to retry; after it, a lost
connection leaves the outcome unknown (:class:`Ambiguous`).

Outcomes: a return (the server took the message), :class:`TemporaryFailure` (a 4xx answer: try
this message again later), :class:`PermanentFailure` (5xx: ``refused`` at RCPT, ``bounced``
otherwise), :class:`ConnectionLost` (the server, not the message: back off and reconnect),
:class:`Ambiguous`; :class:`registry.errors.SmtpError` for what retrying cannot fix (AUTH
refused, no STARTTLS when required, an untrusted certificate): the run stops. The password is
never part of a message.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from registry.anchor.crash import crash_point
from registry.errors import ConfigError, ErrorCode, SmtpError

MAX_ANSWER = 1000  # characters of a server answer kept in the database
DEFAULT_PORTS = {"implicit": 465, "off": 25}  # else 587 (submission with STARTTLS)


class TemporaryFailure(Exception):
    """A 4xx answer to this message: try it again later."""

    def __init__(self, code: int, answer: str) -> None:
        super().__init__(answer)
        self.code, self.answer = code, answer


class PermanentFailure(Exception):
    """A 5xx answer: ``state`` is ``refused`` (RCPT) or ``bounced`` (MAIL, DATA, end of data)."""

    def __init__(self, state: str, code: int, answer: str) -> None:
        super().__init__(answer)
        self.state, self.code, self.answer = state, code, answer


class ConnectionLost(Exception):
    """No usable connection, before the end of data: nothing was delivered."""


class Ambiguous(Exception):
    """The connection failed after the end of data was being sent: delivered or not, unknown."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to connect (from the settings)."""

    host: str
    port: int
    tls: str = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    ca_bundle: Path | None = None
    timeout: float = 30.0
    helo: str | None = None

    @classmethod
    def from_settings(cls, s: Any, helo: str | None = None) -> SmtpConfig:
        """The SMTP settings, checked (a password without a user name, a missing host...)."""
        if not s.smtp_host:
            raise ConfigError(
                "no SMTP server: set REGISTRY_SMTP_HOST (and REGISTRY_SMTP_PORT, REGISTRY_SMTP_TLS)"
            )
        password = s.smtp_password
        if password is None and s.smtp_password_file is not None:
            try:
                password = SecretStr(Path(s.smtp_password_file).read_text(encoding="utf-8").rstrip("\r\n"))
            except OSError as exc:
                raise ConfigError(f"cannot read REGISTRY_SMTP_PASSWORD_FILE ({exc.strerror})") from None
        if password is not None and not s.smtp_username:
            raise ConfigError("an SMTP password is set but no REGISTRY_SMTP_USERNAME")
        port = s.smtp_port or DEFAULT_PORTS.get(s.smtp_tls, 587)
        return cls(
            s.smtp_host, port, s.smtp_tls, s.smtp_username, password, s.smtp_ca_bundle, s.smtp_timeout, helo
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _answer(code: int, resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return f"{code} {' '.join(text.split())}"[:MAX_ANSWER]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _answer(exc.smtp_code, exc.smtp_error)
    return f"{type(exc).__name__}: {exc}"[:MAX_ANSWER]


def _failure(code: int, resp: bytes, permanent_state: str) -> Exception:
    answer = _answer(code, resp)
    if code == 421:  # the server is closing the connection: its problem, not the message's
        return ConnectionLost(answer)
    if 500 <= code < 600:
        return PermanentFailure(permanent_state, code, answer)
    return TemporaryFailure(code, answer)  # 4xx, or an answer SMTP does not allow here


_LEADING_DOT = re.compile(rb"(?m)^\.")


def dot_stuffed(data: bytes) -> bytes:
    """``data`` as DATA content: leading dots doubled, ending in CRLF (the end-of-data line not added)."""
    data = _LEADING_DOT.sub(b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class SmtpClient:
    """A lazily opened connection to the configured server."""

    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self._conn: smtplib.SMTP | None = None
        self._encrypted = False

    def __repr__(self) -> str:
        return f"SmtpClient({self.cfg.host}:{self.cfg.port}, tls={self.cfg.tls})"

    # connection ----------------------------------------------------------------------------------
    def _context(self) -> ssl.SSLContext:
        cafile = str(self.cfg.ca_bundle) if self.cfg.ca_bundle else None
        return ssl.create_default_context(cafile=cafile)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        if cfg.username and cfg.tls in ("off", "starttls-optional") and not _loopback(cfg.host):
            raise SmtpError(
                f"REGISTRY_SMTP_TLS={cfg.tls} with AUTH to {cfg.host}: the password could travel unencrypted;"
                " use starttls or implicit",
                code=ErrorCode.CONFIG_ERROR,
            )
        conn: smtplib.SMTP | None = None
        try:
            if cfg.tls == "implicit":
                conn = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, local_hostname=cfg.helo, timeout=cfg.timeout, context=self._context()
                )
                self._encrypted = True
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, local_hostname=cfg.helo, timeout=cfg.timeout)
                self._encrypted = False
            # the end-of-data line is a small write after the body: without TCP_NODELAY, Nagle's
            # algorithm holds it until the server's delayed ACK (40 ms on Linux) for every message
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo_or_helo_if_needed()
            if cfg.tls in ("starttls", "starttls-optional"):
                self._starttls(conn)
            if cfg.username:
                self._login(conn)
        except ssl.SSLCertVerificationError as exc:
            _close(conn)
            raise SmtpError(
                f"the certificate of {cfg.host} is not trusted ({exc.verify_message}); "
                "set REGISTRY_SMTP_CA_BUNDLE for a private CA"
            ) from None
        except SmtpError:
            _close(conn)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            _close(conn)
            raise ConnectionLost(f"{cfg.host}:{cfg.port}: {_describe(exc)}") from None
        self._conn = conn
        return conn

    def _starttls(self, conn: smtplib.SMTP) -> None:
        if not conn.has_extn("starttls"):
            if self.cfg.tls == "starttls":
                raise SmtpError(
                    f"{self.cfg.host} does not offer STARTTLS, which REGISTRY_SMTP_TLS=starttls requires"
                )
            return
        conn.starttls(context=self._context())
        conn.ehlo()
        self._encrypted = True

    def _login(self, conn: smtplib.SMTP) -> None:
        if not self._encrypted and not _loopback(self.cfg.host):
            raise SmtpError(f"{self.cfg.host} did not encrypt the connection: the password is not sent")
        password = self.cfg.password.get_secret_value() if self.cfg.password else ""
        try:
            conn.login(str(self.cfg.username), password)
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpError(
                f"{self.cfg.host} refused the SMTP user name or password ({_answer(exc.smtp_code, b'')})",
                code=ErrorCode.SMTP_AUTH_FAILED,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise SmtpError(
                f"{self.cfg.host} offers no AUTH on this connection", code=ErrorCode.SMTP_AUTH_FAILED
            ) from None

    def _drop(self) -> None:
        """Close without QUIT (mid-DATA: the server discards the unfinished message)."""
        _close(self._conn)
        self._conn = None

    def close(self) -> None:
        """QUIT and close (errors ignored)."""
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
            self._drop()

    # one message -------------------------------------------------------------------------------
    def send(self, sender: str, recipient: str, data: bytes, before_end: Callable[[], None]) -> str:
        """Hand one message to the server; returns its answer to the end of data (2xx)."""
        conn = self._conn or self._connect()
        try:
            self._envelope(conn, sender, recipient)
            conn.send(dot_stuffed(data))
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self._drop()
            raise ConnectionLost(_describe(exc)) from None
        crash_point("deliver-mid-data")
        try:
            before_end()
        except BaseException:
            self._drop()  # the end of data never went out: the server drops the message
            raise
        crash_point("deliver-before-end")
        try:
            conn.send(b".\r\n")
            code, resp = conn.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self._drop()
            raise Ambiguous(_describe(exc)) from None
        crash_point("deliver-after-reply")
        if 200 <= code < 300:
            return _answer(code, resp)
        if code == 421:  # not taken, and the server hangs up: this message is tried again
            self._drop()
            raise TemporaryFailure(code, _answer(code, resp))
        raise _failure(code, resp, "bounced")

    def _envelope(self, conn: smtplib.SMTP, sender: str, recipient: str) -> None:
        for verb, arg, ok, permanent in (
            ("mail", sender, (250,), "bounced"),
            ("rcpt", recipient, (250, 251), "refused"),
        ):
            code, resp = getattr(conn, verb)(arg)
            if code not in ok:
                self._reset(conn, code)
                raise _failure(code, resp, permanent)
        code, resp = conn.docmd("DATA")
        if code != 354:
            self._reset(conn, code)
            raise _failure(code, resp, "bounced")

    def _reset(self, conn: smtplib.SMTP, code: int) -> None:
        if code == 421:
            self._drop()
            return
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()

"""The email of one credential: template context, Message-ID, and the MIME message bytes.

Structure: ``multipart/mixed`` of a ``multipart/alternative`` (plain text, then HTML when the
template has it), the credential with its proofs as ``0x<digest>.json``
(``application/ld+json``) and, when it exists, ``0x<digest>.pdf``. Everything is 7-bit
(quoted-printable / base64, RFC 2047 headers), so any SMTP server takes it without SMTPUTF8.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import Any

from registry.db.models import utcnow
from registry.deliver.template import Rendered
from registry.errors import ConfigError

POLICY = SMTP.clone(cte_type="7bit")  # CRLF, 7-bit bodies: no 8BITMIME or SMTPUTF8 needed
JSON_TYPE = ("application", "ld+json")
DIGEST_HEADER = "X-Credential-Digest"


def sender_address(mail_from: str | None) -> Address:
    """The sender from the ``mail_from`` setting (``Name <addr>`` or ``addr``), checked."""
    from registry.deliver.recipients import address_problem

    if not mail_from:
        raise ConfigError("no sender address: set REGISTRY_MAIL_FROM (\"Registrar <registrar@example.edu>\")")
    name, addr = parseaddr(mail_from)
    problem = address_problem(addr) if addr else "empty"
    if problem:
        raise ConfigError(f"REGISTRY_MAIL_FROM is not a usable sender address ({problem})")
    local, domain = addr.split("@", 1)
    return Address(display_name=name, username=local, domain=domain)


def message_id(digest_hex: str, edition: int, sender: Address) -> str:
    """The deterministic Message-ID of one edition of one credential's email."""
    return f"<{digest_hex}.{edition}@{sender.domain}>"


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def template_context(document: Mapping[str, Any], digest_hex: str, link: str) -> dict[str, str]:
    """What the template gets for one credential (names from the OB 3.0 / VC document)."""
    subject = document.get("credentialSubject")
    if isinstance(subject, list):
        subject = subject[0] if subject else {}
    subject = subject if isinstance(subject, Mapping) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, Mapping) else {}
    issuer = document.get("issuer")
    if isinstance(issuer, Mapping):
        issuer_name = _text(issuer.get("name")) or _text(issuer.get("id"))
    else:
        issuer_name = _text(issuer)
    return {
        "recipient_name": _text(subject.get("name")),
        "achievement_name": _text(achievement.get("name")),
        "credential_name": _text(document.get("name")),
        "issuer_name": issuer_name,
        "link": link,
        "digest": digest_hex,
    }


def build_message(
    *,
    rendered: Rendered,
    sender: Address,
    recipient: str,
    recipient_name: str,
    msg_id: str,
    digest_hex: str,
    credential: bytes,
    pdf: bytes | None,
) -> bytes:
    """The message as it goes on the wire (CRLF line ends, not yet dot-stuffed)."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    local, domain = recipient.split("@", 1)
    msg["To"] = Address(display_name=" ".join(recipient_name.split()), username=local, domain=domain)
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = msg_id
    msg[DIGEST_HEADER] = digest_hex
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text)
    if rendered.html is not None:
        msg.add_alternative(rendered.html, subtype="html")
    msg.add_attachment(credential, maintype=JSON_TYPE[0], subtype=JSON_TYPE[1], filename=f"{digest_hex}.json")
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{digest_hex}.pdf")
    return msg.as_bytes(policy=POLICY)

"""The issuer's message template: one Jinja file with a ``subject``, a ``text`` and an ``html`` block.

Rendered in a sandbox (``jinja2.sandbox.SandboxedEnvironment``) with ``StrictUndefined``: a name
the template uses but the context lacks is an error, found before anything is sent (the template
is tried on a sample first). The ``html`` block is rendered with autoescaping, so a learner
called ``<script>`` is shown, not run; ``subject`` and ``text`` are plain text. ``html`` may be
left out (the message is then plain text only); ``subject`` and ``text`` are required.

Variables: ``recipient_name``, ``achievement_name``, ``credential_name``, ``issuer_name``,
``link`` (the permanent verification link) and ``digest`` (0x…); any may be an empty string
except ``link`` and ``digest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from registry.errors import ConfigError, ErrorCode

BLOCKS = ("subject", "text", "html")
MAX_TEMPLATE_BYTES = 256 * 1024
MAX_SUBJECT = 200  # characters; longer subjects are cut

DEFAULT_TEMPLATE = """\
{#- The message `registry deliver` sends with each credential. Edit freely; keep the three blocks.
    Variables: recipient_name, achievement_name, credential_name, issuer_name, link, digest.
    `html` is autoescaped; `subject` and `text` are plain text. -#}
{% block subject %}Your credential: {{ achievement_name or credential_name }}{% endblock %}

{% block text -%}
{% if recipient_name %}Dear {{ recipient_name }},{% else %}Hello,{% endif %}

{{ issuer_name }} has issued you a credential for {{ achievement_name or credential_name }}.

It is attached to this email as a file ending in .json (and as a PDF when there is one): keep it,
or import it into a digital wallet. Anyone can check it at any time at this permanent link:

  {{ link }}

Its fingerprint is recorded on a public blockchain, so it can also be checked without us.

{{ issuer_name }}
{%- endblock %}

{% block html -%}
<!DOCTYPE html>
<html><body style="font-family: sans-serif; line-height: 1.5">
<p>{% if recipient_name %}Dear {{ recipient_name }},{% else %}Hello,{% endif %}</p>
<p>{{ issuer_name }} has issued you a credential for
<strong>{{ achievement_name or credential_name }}</strong>.</p>
<p>It is attached to this email as a file ending in .json (and as a PDF when there is one): keep
it, or import it into a digital wallet. Anyone can check it at any time at this permanent link:</p>
<p><a href="{{ link }}">{{ link }}</a></p>
<p>Its fingerprint is recorded on a public blockchain, so it can also be checked without us.</p>
<p>{{ issuer_name }}</p>
</body></html>
{%- endblock %}
"""

SAMPLE_CONTEXT = {
    "recipient_name": "Ada Lovelace",
    "achievement_name": "Sample Achievement",
    "credential_name": "Sample Credential",
    "issuer_name": "Sample Issuer",
    "link": "https://verify.example/v/0x" + "00" * 32,
    "digest": "0x" + "00" * 32,
}


@dataclass(frozen=True)
class Rendered:
    """One rendered message: subject (one line), plain text, and HTML when the template has it."""

    subject: str
    text: str
    html: str | None


class MessageTemplate:
    """A loaded, checked message template."""

    def __init__(self, source: str, name: str = "<built-in>") -> None:
        self.name = name
        try:
            self._text = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined).from_string(source)
            self._html = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined).from_string(source)
        except TemplateError as exc:
            raise self._error(exc) from None
        missing = [b for b in ("subject", "text") if b not in self._text.blocks]
        if missing:
            raise ConfigError(
                f"message template {name}: missing block(s) {', '.join(missing)} "
                "({% block subject %}…{% endblock %}, likewise text; html is optional)",
                code=ErrorCode.DELIVERY_TEMPLATE_INVALID,
            )
        self.render(SAMPLE_CONTEXT)  # unknown variables and runtime errors show up now, not mid-run

    @classmethod
    def load(cls, path: Path | None) -> MessageTemplate:
        """The template at ``path``, or the built-in one when ``path`` is None or does not exist."""
        if path is None or not path.is_file():
            return cls(DEFAULT_TEMPLATE)
        data = path.read_bytes()
        if len(data) > MAX_TEMPLATE_BYTES:
            raise ConfigError(
                f"message template {path}: larger than {MAX_TEMPLATE_BYTES} bytes",
                code=ErrorCode.DELIVERY_TEMPLATE_INVALID,
            )
        try:
            source = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigError(
                f"message template {path}: not UTF-8", code=ErrorCode.DELIVERY_TEMPLATE_INVALID
            ) from None
        return cls(source, str(path))

    def render(self, context: dict[str, Any]) -> Rendered:
        """Render the three blocks for one credential."""
        try:
            subject = " ".join(_block(self._text, "subject", context).split())[:MAX_SUBJECT]
            text = _block(self._text, "text", context).strip() + "\n"
            html = _block(self._html, "html", context).strip() + "\n" if "html" in self._html.blocks else None
        except TemplateError as exc:
            raise self._error(exc) from None
        return Rendered(subject=subject, text=text, html=html)

    def _error(self, exc: TemplateError) -> ConfigError:
        line = getattr(exc, "lineno", None)
        where = f" line {line}" if line else ""
        return ConfigError(
            f"message template {self.name}{where}: {exc.message or type(exc).__name__}",
            code=ErrorCode.DELIVERY_TEMPLATE_INVALID,
        )


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(dict(context))))


def write_default(path: Path) -> Path:
    """Write the built-in template to ``path`` for the issuer to edit (never over an existing file)."""
    if path.exists():
        raise ConfigError(f"{path} exists: not overwritten", code=ErrorCode.DELIVERY_TEMPLATE_INVALID)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEFAULT_TEMPLATE, encoding="utf-8")
    return path

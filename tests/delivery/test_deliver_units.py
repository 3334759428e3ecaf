"""The pure parts of delivery: where the address comes from, the sandboxed template, the rate
limiter on a fake clock, the back-off, the dot-stuffing, and the CLI's configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from delivery_kit import learner_badge
from pipeline_kit import run_cli

from registry.deliver.ratelimit import RateLimiter
from registry.deliver.recipients import address_in_document, address_problem, recipient_address
from registry.deliver.run import backoff_delay
from registry.deliver.smtp import dot_stuffed
from registry.deliver.template import DEFAULT_TEMPLATE, SAMPLE_CONTEXT, MessageTemplate
from registry.errors import ConfigError, ErrorCode


def test_address_sources() -> None:
    assert recipient_address(None, b"\x00" * 32, learner_badge(0)) == "learner0@students.example.org"
    doc = learner_badge(1, email_address=None)
    assert address_in_document(doc) is None
    doc["credentialSubject"]["email"] = " x@example.org "
    assert address_in_document(doc) == "x@example.org"
    doc["credentialSubject"]["identifier"] = {
        "identityType": "emailAddress",
        "hashed": True,
        "identityHash": "h",
    }
    assert address_in_document(doc) == "x@example.org"  # a hashed identifier is no address
    doc["credentialSubject"] = [{"identifier": [{"identityType": "emailAddress", "hashed": False,
                                                 "identityHash": "first@example.org"}]}]  # fmt: skip
    assert address_in_document(doc) == "first@example.org"
    assert address_in_document({"credentialSubject": "nope"}) is None


@pytest.mark.parametrize(
    "address",
    [
        "a b@example.org",
        "a@example",
        "a@example.org\r\nBcc: x@y.org",
        "<a@example.org>",
        "ü@example.org",
        "@x.org",
    ],
)
def test_unusable_addresses(address: str) -> None:
    assert address_problem(address) is not None


def test_usable_addresses() -> None:
    assert address_problem("first.last+tag@mail.example.co.uk") is None
    assert address_problem("a" * 250 + "@x.org") is not None  # too long


def test_template_escapes_html_only() -> None:
    r = MessageTemplate(DEFAULT_TEMPLATE).render({**SAMPLE_CONTEXT, "recipient_name": "<b>Bo</b> & Co"})
    assert "Dear <b>Bo</b> & Co," in r.text
    assert r.html is not None and "Dear &lt;b&gt;Bo&lt;/b&gt; &amp; Co," in r.html
    assert r.subject == "Your credential: Sample Achievement"


@pytest.mark.parametrize(
    ("source", "expect"),
    [
        (
            "{% block subject %}{{ recipient }}{% endblock %}{% block text %}x{% endblock %}",
            "'recipient' is undefined",
        ),
        ("{% block text %}x{% endblock %}", "missing block(s) subject"),
        (
            "{% block subject %}{% endblock %}{% block text %}{{ ''.__class__.__mro__ }}{% endblock %}",
            "unsafe",
        ),
        ("{% block subject %}{% if %}{% endblock %}", "line 1"),
    ],
)
def test_bad_templates_fail_before_anything_is_sent(source: str, expect: str) -> None:
    with pytest.raises(ConfigError) as info:
        MessageTemplate(source, "mine.j2")
    assert info.value.code == ErrorCode.DELIVERY_TEMPLATE_INVALID
    assert expect in str(info.value) and "mine.j2" in str(info.value)


def test_template_file_and_default(tmp_path: Path) -> None:
    assert MessageTemplate.load(tmp_path / "absent.j2").name == "<built-in>"
    (tmp_path / "latin1.j2").write_bytes("{% block subject %}\xe9{% endblock %}".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        MessageTemplate.load(tmp_path / "latin1.j2")


def test_rate_limiter_spacing_on_a_fake_clock() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = RateLimiter(10.0, clock=lambda: now[0], sleep=sleep)
    starts = [limiter.wait() for _ in range(30)]
    assert starts[0] == 0.0 and all(
        b - a == pytest.approx(0.1) for a, b in zip(starts, starts[1:], strict=False)
    )
    now[0] += 5.0  # idle: no burst is saved up beyond the next slot
    t = limiter.wait()
    assert limiter.wait() - t == pytest.approx(0.1)
    # any second (half-open; 1e-6 for the float sums of 0.1) holds at most `rate` sends
    assert max(sum(1 for s in starts if w <= s < w + 1.0 - 1e-6) for w in starts) == 10


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(30, n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_delay(30, 50) == 3600


def test_dot_stuffing() -> None:
    assert dot_stuffed(b"a\r\n.b\r\n..c\r\n.") == b"a\r\n..b\r\n...c\r\n..\r\n"


def test_cli_template_new_and_config_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"REGISTRY_DATA_DIR": str(data), "REGISTRY_CONFIG": str(tmp_path / "none.toml"),
           "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}  # fmt: skip
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")} | env
    made = run_cli(["deliver", "--template-new"], base)
    assert made.returncode == 0 and (data / "delivery-message.j2").read_text() == DEFAULT_TEMPLATE
    assert run_cli(["deliver", "--template-new"], base).returncode == 1  # never overwritten
    no_url = run_cli(["deliver"], base)
    assert no_url.returncode == 1 and "REGISTRY_PUBLIC_URL" in no_url.stderr
    no_host = run_cli(
        ["deliver"], base | {"REGISTRY_PUBLIC_URL": "https://v.example", "REGISTRY_MAIL_FROM": "a@b.org"}
    )
    assert no_host.returncode == 1 and "REGISTRY_SMTP_HOST" in no_host.stderr
    (data / "delivery-message.j2").write_text(
        "{% block subject %}{{ nope }}{% endblock %}{% block text %}{% endblock %}"
    )
    full = {"REGISTRY_PUBLIC_URL": "https://v.example", "REGISTRY_MAIL_FROM": "a@b.org",
            "REGISTRY_SMTP_HOST": "127.0.0.1", "REGISTRY_SMTP_PASSWORD": "pw-XYZZY-123",
            "REGISTRY_SMTP_USERNAME": "u"}  # fmt: skip
    bad = run_cli(["deliver"], base | full)
    assert (
        bad.returncode == 1
        and "delivery_template_invalid" in bad.stderr
        and "'nope' is undefined" in bad.stderr
    )
    assert "pw-XYZZY-123" not in bad.stderr + bad.stdout
    status = run_cli(["deliver", "--status", "--json"], base)
    assert status.returncode == 0 and '"sent": 0' in status.stdout

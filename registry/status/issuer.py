"""The issuer commands' side of the status lists: a publisher from the settings, run after changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.anchor.pipeline import Pipeline
from registry.errors import ChainError, ConfigError, ErrorCode, RegistryError
from registry.settings import Settings
from registry.status.events import ChainEvents
from registry.status.publish import Publisher, signer_from_settings


def configured(settings: Settings) -> bool:
    """True when status lists are set up: ``REGISTRY_PUBLIC_URL`` (where their entries point) and
    a key to sign them (``REGISTRY_STATUS_SIGNING_KEY``, or the issuer's signing key)."""
    has_key = settings.status_signing_key is not None or (
        settings.signing_key is not None or settings.signing_keystore is not None
    )
    return bool(settings.public_url) and has_key


def publisher_for(settings: Settings, pipe: Pipeline) -> Publisher:
    """The publisher of the pipeline's issuer (``ConfigError`` naming what is missing)."""
    if not settings.public_url:
        raise ConfigError("status lists need REGISTRY_PUBLIC_URL: the base URL their entries name")
    chain = ChainEvents(pipe.w3, pipe.contract, pipe.address, start_block=settings.start_block)
    return Publisher(
        pipe.db,
        pipe.store,
        chain,
        signer_from_settings(settings),
        base_url=settings.public_url,
        out_dir=settings.resolved_status_lists_dir,
        ttl=settings.status_list_ttl,
        confirmations=settings.confirmations,
    )


def publish_after_change(settings: Settings, pipe: Pipeline, say: Callable[[str], None]) -> dict[str, Any]:
    """Publish the lists a status change moved; a failure is reported, not raised (the change is
    on chain; the next command, or ``registry status-lists publish``, catches up)."""
    if not configured(settings):
        return {"configured": False}
    try:
        report = publisher_for(settings, pipe).publish()
    except (RegistryError, OSError) as exc:
        say(f"status lists NOT published ({exc}); run `registry status-lists publish` to catch up")
        return {"configured": True, "error": str(exc)}
    for p in report.published:
        say(
            f"status list {p['list']}/{p['purpose']} version {p['version']} at block {p['block']}: {p['cid']}"
        )
    return {"configured": True, **report.to_json()}


def watch_hook(settings: Settings, pipe: Pipeline) -> Callable[[], bool] | None:
    """What ``anchor --watch`` calls each round: publish when due (None when not configured).

    The publisher is built on the first call, so a command that never watches is not affected.
    """
    if not configured(settings):
        return None
    publishers: list[Publisher] = []

    def hook() -> bool:
        if not publishers:
            publishers.append(publisher_for(settings, pipe))
        try:
            report = publishers[0].publish_if_due()
        except RegistryError as exc:
            if isinstance(exc, ChainError) and exc.code is ErrorCode.CHAIN_UNAVAILABLE:
                raise  # the pipeline's guard waits for the node
            pipe.say(f"status lists NOT published ({exc}); retrying next round")
            return False
        for p in report.published if report is not None else []:
            pipe.say(f"status list {p['list']}/{p['purpose']} version {p['version']} at block {p['block']}")
        return True

    return hook

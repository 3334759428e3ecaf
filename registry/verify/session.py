"""One verification session built from the settings, used by ``registry verify``, ``registry serve``
and ``registry dev``: the trusted registries, the chain reader (with its finality rule), the
digest index and the content store it reads manifests from, the DID resolver (did:web) and the
status list reader.

The same settings give the same answer and the same error everywhere. Without a trusted registry
nothing is verified (every credential would look forged): the session refuses to open with a
``ConfigError``. When only ``REGISTRY_CONTRACT`` is set, the node is asked its chain id once; a node
that cannot be reached then is the same ``ConfigError`` ("cannot learn which registry to trust
...") for the CLI (exit 1) and the service (it does not start). With the trusted registries set,
an unreachable node is a verdict instead: ``indeterminate`` (CLI exit 3, HTTP 503).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from registry.dids.resolver import DidResolver
from registry.errors import ChainError, ConfigError, RegistryError
from registry.settings import Settings
from registry.verify.config import VerifyConfig
from registry.verify.core import (
    Prepared,
    finish,
    prepare_document,
    resolve_issuer,
    run_chain,
    status_lists,
    with_status_detail,
)
from registry.verify.index import DigestIndex
from registry.verify.reader import ChainReader
from registry.verify.result import VerificationResult
from registry.verify.statuslists import StatusListReader

log = logging.getLogger(__name__)


def build_reader(settings: Settings, config: VerifyConfig | None = None) -> ChainReader:
    """A reader of the settings' node following every trusted contract of ``config``."""
    contracts = sorted({a for _, a in config.trusted}) if config is not None else []
    return ChainReader(
        settings.rpc_urls or settings.rpc_url,  # several: quorum reads (registry/verify/quorum.py)
        contracts,
        timeout=settings.rpc_timeout,
        staleness=settings.cache_staleness,
        from_block=settings.start_block,
        finality=settings.finality,
        quorum=settings.rpc_quorum,
        allow_minority=settings.rpc_quorum_minority,
    )


def resolve_trust(settings: Settings, reader: ChainReader) -> VerifyConfig:
    """The core's configuration; the node names the chain when only the contract is set."""
    config = VerifyConfig.from_settings(settings)
    if not config.trusted and settings.contract:
        try:
            config = VerifyConfig.from_settings(settings, chain_id=reader.chain_id())
        except ChainError as exc:
            raise ConfigError(
                f"cannot learn which registry to trust ({exc.message}); set REGISTRY_CHAIN_ID "
                "or REGISTRY_TRUSTED_REGISTRIES"
            ) from None
    if not config.trusted:
        raise ConfigError(
            "no trusted registry: set REGISTRY_TRUSTED_REGISTRIES (--trusted for registry verify) "
            "or REGISTRY_CONTRACT"
        )
    return config


def open_content_store(settings: Settings) -> object | None:
    """The content store holding the batch manifests (a local folder or an IPFS daemon)."""
    from registry.ipfs import open_store

    try:
        return open_store(settings)
    except RegistryError as exc:
        log.warning("no content store (%s): bare documents cannot be looked up", exc)
        return None


class VerificationSession:
    """Trust, chain reader, digest index and content store of one verifier."""

    def __init__(
        self, settings: Settings, *, store: object | None = None, shared_index: bool = False
    ) -> None:
        """Resolve the trusted registries and make the reader; raises ``ConfigError``.

        ``shared_index``: read the shared digest index (``REGISTRY_INDEX_URL``, written by one
        follower: :mod:`registry.index`) instead of building one in memory (the service does)."""
        self.settings = settings
        self.reader = build_reader(settings)
        try:
            self.config = resolve_trust(settings, self.reader)
        except BaseException:
            self.reader.close()
            raise
        self.reader.contracts = sorted({str(a) for _, a in self.config.trusted})
        self._store = store
        self.shared_index = shared_index
        self._index: DigestIndex | Any = None
        self.resolver = DidResolver.from_settings(settings)
        self.lists = StatusListReader.from_settings(settings, self.resolver)

    @property
    def store_override(self) -> object | None:
        """The content store given to the session, if any (else the settings' is opened)."""
        return self._store

    @property
    def index(self) -> Any:
        """The digest index (made at first use): the shared one, or in memory (the content store
        is opened then)."""
        if self._index is None and self.shared_index:
            from registry.index.db import open_index
            from registry.index.replica import SharedIndex

            store = self._store if self._store is not None else open_content_store(self.settings)
            self._index = SharedIndex(
                open_index(self.settings),
                self.reader,
                pending_grace=self.settings.index_pending_grace,
                store=store,
            )
        elif self._index is None:
            store = self._store if self._store is not None else open_content_store(self.settings)
            self._index = DigestIndex(self.reader, store)
        return self._index

    def prepare(self, data: bytes) -> Prepared:
        """The local checks of one document, for a one-shot verifier (the CLI): a document without
        a proof is looked up after one catch-up read of the chain's events and manifests."""
        prep = prepare_document(data, self.config, None)
        if prep.proof is None and prep.digest is not None and not prep.local_failed:
            index = self.index
            with contextlib.suppress(ChainError):
                self.reader.poll()
            prep = prepare_document(data, self.config, index)
        return prep

    def verify(self, data: bytes, now: datetime | None = None) -> VerificationResult:
        """Verify one document now (or at ``now``): a credential JSON, or a PDF or baked PNG/SVG
        carrying one (:mod:`registry.verify.uploads`; the result's ``source`` says so)."""
        from registry.verify.uploads import unwrap, with_source

        upload = unwrap(data, self.settings)
        return with_source(self._verify(upload.data, now), upload)

    def _verify(self, data: bytes, now: datetime | None) -> VerificationResult:
        prep = self.prepare(data)
        view, error = run_chain(prep, self.reader)
        did = resolve_issuer(prep, view, self.resolver)
        lists = status_lists(prep, view, self.lists)
        result = finish(prep, view, error, self.config, now or datetime.now(UTC), did, lists)
        return with_status_detail(result, prep, view, self.reader)

    def close(self) -> None:
        """Stop following the chain and close its connections (and the DID resolver's)."""
        self.reader.close()
        self.resolver.close()
        self.lists.close()
        idb = getattr(self._index, "idb", None)
        if idb is not None:
            idb.close()

    def __enter__(self) -> VerificationSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

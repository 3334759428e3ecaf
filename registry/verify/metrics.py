"""Prometheus metrics of the verification service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Prometheus metrics of one app (own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.verifications = Counter(
            "registry_verifications", "verifications by verdict", ["status"], registry=self.registry
        )
        self.latency = Histogram(
            "registry_verification_seconds",
            "time to verify one credential",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )
        self.cache = Counter(
            "registry_chain_cache", "chain view cache lookups", ["outcome"], registry=self.registry
        )
        self.chain_errors = Counter(
            "registry_chain_errors", "chain reads that failed", registry=self.registry
        )
        self.head = Gauge(
            "registry_chain_head_block", "head block seen by the event follower", registry=self.registry
        )
        self.sync_age = Gauge(
            "registry_event_sync_age_seconds", "seconds since events were last read", registry=self.registry
        )
        self.indexed = Gauge(
            "registry_indexed_batches", "batches in the digest index", registry=self.registry
        )
        self.pending = Gauge("registry_pending_manifests", "manifests not read yet", registry=self.registry)
        self.rejected = Gauge(
            "registry_rejected_manifests",
            "anchors whose manifest was rejected for good (malformed or oversized reference, "
            "oversized or mismatching manifest)",
            registry=self.registry,
        )

"""Bounded outbound HTTP(S) for the verifier: did:web DID documents and status list credentials."""

from registry.net.fetch import Fetched, FetchError, FetchLimits, bounded_get, https_client, is_loopback

__all__ = ["FetchError", "FetchLimits", "Fetched", "bounded_get", "https_client", "is_loopback"]

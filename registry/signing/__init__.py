"""The issuer's Ed25519 signing key (``keys``), its DIDs (``did``) and document signing (``signer``)."""

"""``registry dev``: a whole local registry in one command (chain, issuers, credentials, service)."""

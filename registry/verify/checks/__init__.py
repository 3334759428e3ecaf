"""The named checks, one function each, returning a :class:`~registry.verify.verdict.Finding`.

Where each concern lives:

* :mod:`.local` - ``format``, ``integrity``, ``merkle_inclusion`` (the proof's path) and
  ``trusted_registry``: the document alone, no I/O;
* :mod:`.lookup` - ``merkle_inclusion`` for a document or digest without a proof (the digest index);
* :mod:`.chain` - ``anchored``, ``issuer``, ``issuer_binding``, ``batch_not_revoked``,
  ``credential_not_revoked``, ``credential_not_suspended``: the chain's records (a
  :class:`~registry.verify.reader.ChainView`);
* :mod:`.signature` - ``signature``: the issuer's Data Integrity proofs against its DID document
  (did:key derived, did:web fetched by the caller through :mod:`registry.dids`);
* :mod:`.status` - ``credential_status``: the credential's Bitstring Status List entries read
  from their verified lists (fetched by :mod:`registry.verify.statuslists`), the registry's own
  lists checked against the chain;
* :mod:`.validity` - ``validity_window``: the credential's own period at the time of the verdict;
* :mod:`.words` - how checks and times are written.

Adding a check is one function in the module of its concern and one row where that module lists
its checks (``LOCAL_CHECKS`` or ``CHAIN_CHECKS``); the verdict follows from its outcome
(:data:`registry.verify.verdict.PRECEDENCE`).
"""

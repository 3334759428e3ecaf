"""Bitstring Status Lists derived from the chain (issue 13).

- :mod:`.allocate`: index allocation in the issuer database (random, never twice, crash-safe);
- :mod:`.derive`: the pure function from the issuer's chain events to each list's bits;
- :mod:`.events`: reading those events from the chain;
- :mod:`.published`: the published directory (written by the issuer, read by the service and audit);
- :mod:`.publish`: building, signing, pinning, recording and writing list versions;
- :mod:`.bulk`: status changes of thousands of credentials in as few transactions as fit;
- :mod:`.issuer`: a publisher from the settings, run by the issuer commands and ``anchor --watch``;
- :mod:`.audit`: rebuilding every published version from the chain.
"""

"""W3C Data Integrity: the ``eddsa-rdfc-2022`` cryptosuite, pinned JSON-LD contexts, ``did:key``.

Pure: no network, no files outside the pinned contexts shipped in this package.
"""

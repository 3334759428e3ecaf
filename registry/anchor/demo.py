"""Generated Open Badges 3.0 credentials of one example issuer, for tests, demos and the bench.

The documents are ``registry.core.samples.sample_badge`` (the one sample generator of the tree)
for the issuer :data:`ISSUER`; this module adds the string seeds and the JSON Lines file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from registry.core.samples import sample_badge

ISSUER = {
    "id": "https://credentials.example.edu/issuers/1",
    "type": ["Profile"],
    "name": "Example Institute of Technology",
    "url": "https://www.example.edu",
    "email": "registrar@example.edu",
}


def badge(i: int, *, with_id: bool = True, seed: str = "demo") -> dict[str, Any]:
    """The ``i``-th generated credential of :data:`ISSUER` (deterministic in ``i`` and ``seed``)."""
    num_seed = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")
    doc = sample_badge(i, issuer_id=str(ISSUER["id"]), issuer_name=str(ISSUER["name"]), seed=num_seed)
    if not with_id:
        doc.pop("id", None)
    return doc


def generate(n: int, *, seed: str = "demo", with_id: bool = True) -> Iterator[dict[str, Any]]:
    """``n`` credentials: :func:`badge` for ``0 .. n-1``."""
    for i in range(n):
        yield badge(i, with_id=with_id, seed=seed)


def write_jsonl(path: Any, n: int, *, seed: str = "demo", with_id: bool = True) -> int:
    """Write ``n`` generated credentials as JSON Lines; returns the bytes written."""
    total = 0
    with open(path, "w", encoding="utf-8") as fh:
        for doc in generate(n, seed=seed, with_id=with_id):
            line = json.dumps(doc, ensure_ascii=False) + "\n"
            fh.write(line)
            total += len(line.encode())
    return total

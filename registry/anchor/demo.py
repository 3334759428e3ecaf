"""Realistic generated Open Badges 3.0 credentials for tests, demos and the benchmark.

Prefers ``registry.core.samples.sample_badge`` when the core package provides it; otherwise builds
the same kind of document here (about 1.5 KB: issuer profile, achievement with criteria and
alignment, hashed e-mail identifier, evidence).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

COURSES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Digital Marketing",
        "Plans, runs and measures multi-channel campaigns: search, social, e-mail and content, with "
        "budgets, A/B tests and attribution reports.",
        ("marketing", "seo", "analytics"),
    ),
    (
        "Data Analysis with Python",
        "Loads, cleans, explores and visualises data sets with pandas and matplotlib, and "
        "communicates findings with reproducible notebooks.",
        ("python", "pandas", "data"),
    ),
    (
        "Renewable Energy Technician",
        "Installs, commissions and maintains photovoltaic and small wind systems safely, following "
        "the electrical code and manufacturer procedures.",
        ("solar", "wind", "electrical"),
    ),
    (
        "Cybersecurity Fundamentals",
        "Explains threats, controls and incident response; hardens hosts and networks; applies "
        "least privilege, patching and secure configuration baselines.",
        ("security", "networks", "incident-response"),
    ),
)

ISSUER = {
    "id": "https://credentials.example.edu/issuers/1",
    "type": ["Profile"],
    "name": "Example Institute of Technology",
    "url": "https://www.example.edu",
    "email": "registrar@example.edu",
}


def badge(i: int, *, with_id: bool = True, seed: str = "demo") -> dict[str, Any]:
    """The ``i``-th generated Open Badges 3.0 credential (deterministic for a given seed)."""
    course, description, tags = COURSES[i % len(COURSES)]
    slug = course.lower().replace(" ", "-")
    h = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i % 500_000)
    doc: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": ISSUER,
        "validFrom": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "validUntil": (start + timedelta(days=3 * 365)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "name": f"{course} Certificate",
        "description": f"Awarded for completing the {course} programme with a passing grade.",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": "sha256$" + h,
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": h[:16],
                }
            ],
            "achievement": {
                "id": f"https://credentials.example.edu/achievements/{slug}",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": course,
                "description": description,
                "criteria": {
                    "narrative": "Completed every graded module and a supervised final assessment "
                    "with an overall score of at least 75 %."
                },
                "tag": list(tags),
                "alignment": [
                    {
                        "type": ["Alignment"],
                        "targetName": f"{course} competency framework",
                        "targetUrl": f"https://frameworks.example.org/{slug}",
                        "targetType": "CFItem",
                    }
                ],
            },
        },
        "evidence": [
            {
                "id": f"https://credentials.example.edu/evidence/{h[:24]}",
                "type": ["Evidence"],
                "name": "Final assessment",
            }
        ],
    }
    if with_id:
        doc["id"] = f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
    return doc


def _sample_badge() -> Any:
    try:
        return importlib.import_module("registry.core.samples").sample_badge
    except (ImportError, AttributeError):
        return None


def generate(n: int, *, seed: str = "demo", with_id: bool = True) -> Iterator[dict[str, Any]]:
    """``n`` credentials: the core's ``sample_badge`` when available, else :func:`badge`."""
    sample = _sample_badge()
    num_seed = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")
    for i in range(n):
        doc = None
        if sample is not None:
            try:
                doc = sample(i, issuer_id=ISSUER["id"], issuer_name=ISSUER["name"], seed=num_seed)
            except TypeError:
                doc = None
        if doc is None:
            doc = badge(i, with_id=with_id, seed=seed)
        elif not with_id:
            doc.pop("id", None)
        yield doc


def write_jsonl(path: Any, n: int, *, seed: str = "demo", with_id: bool = True) -> int:
    """Write ``n`` generated credentials as JSON Lines; returns the bytes written."""
    total = 0
    with open(path, "w", encoding="utf-8") as fh:
        for doc in generate(n, seed=seed, with_id=with_id):
            line = json.dumps(doc, ensure_ascii=False) + "\n"
            fh.write(line)
            total += len(line.encode())
    return total

"""The demo data of ``registry dev``: three issuers and their deterministic sample credentials.

Every document is a function of (issuer, its DID, index) only: same id, same dates, same bytes on
every run, so issuing them again is a no-op in the pipeline and a rerun of ``registry dev``
anchors nothing new. The issuers sign with Ed25519 keys derived from fixed public seeds
(:func:`demo_signing_seed`), as anvil's dev accounts are fixed: DEMO KEYS, known to everyone, never
for real credentials. Two issuers are ``did:key``; one is ``did:web`` on the local verification
service (``did:web:127.0.0.1%3A<port>:issuers:<slug>``, plain http on loopback: demo only).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

OB3_CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]


@dataclass(frozen=True)
class Course:
    """One achievement an issuer awards."""

    name: str
    kind: str  # OB3 achievementType
    description: str
    criteria: str
    hours: int
    skills: tuple[str, ...]
    valid_years: int | None = None  # certifications that expire


@dataclass(frozen=True)
class DemoIssuer:
    """A demo issuing institution: its profile and the courses it awards."""

    slug: str
    name: str
    url: str
    description: str
    courses: tuple[Course, ...]
    dev_key_index: int  # which anvil dev key signs for it on the local chain
    did_method: str = "key"  # "key" or "web" (its DID document served by the local service)

    @property
    def did_web_path(self) -> str:
        """The path of its did:web below the service (``issuers/<slug>``)."""
        return f"issuers/{self.slug}"

    def profile(self, did: str) -> dict[str, Any]:
        """The OB3 issuer ``Profile`` embedded in its credentials: ``id`` is the issuer's DID."""
        return {
            "id": did,
            "type": ["Profile"],
            "name": self.name,
            "url": self.url,
            "description": self.description,
        }


ISSUERS: tuple[DemoIssuer, ...] = (
    DemoIssuer(
        slug="northbridge-university",
        name="Northbridge University",
        url="https://www.northbridge-university.example",
        description="A public research university awarding stackable micro-credentials.",
        dev_key_index=1,
        did_method="web",
        courses=(
            Course(
                "Data Analysis with Python",
                "Certificate",
                "Cleaning, exploring and modelling tabular data with pandas, NumPy and matplotlib.",
                "Completed 6 graded notebooks and a capstone analysis of a public data set with a score "
                "of at least 70%.",
                60,
                ("pandas", "data cleaning", "exploratory data analysis", "data visualisation"),
            ),
            Course(
                "Applied Machine Learning",
                "Certificate",
                "Supervised learning, model evaluation and responsible deployment with scikit-learn.",
                "Passed the proctored final exam and delivered a documented end-to-end ML project.",
                80,
                ("scikit-learn", "model evaluation", "feature engineering"),
            ),
            Course(
                "Foundations of Academic Writing",
                "Course",
                "Structuring arguments, citing sources and writing for an academic audience.",
                "Submitted three peer-reviewed essays and a revised final paper.",
                30,
                ("academic writing", "citation", "critical reading"),
            ),
        ),
    ),
    DemoIssuer(
        slug="learnloop",
        name="LearnLoop Online Academy",
        url="https://learnloop.example",
        description="An online-learning platform offering self-paced professional courses.",
        dev_key_index=2,
        courses=(
            Course(
                "Digital Marketing",
                "Certificate",
                "Search engine optimisation, paid campaigns, analytics and content strategy.",
                "Completed all 8 modules, 8 quizzes at 80% or more and a campaign plan assessed by a mentor.",
                40,
                ("SEO", "campaign analytics", "content strategy", "social media marketing"),
            ),
            Course(
                "Cybersecurity Fundamentals",
                "Certificate",
                "Threats, controls, network security, identity and incident response basics.",
                "Passed the final assessment (75% or more) and completed 4 hands-on labs.",
                45,
                ("threat modelling", "network security", "incident response", "access control"),
            ),
            Course(
                "UX Design Essentials",
                "Badge",
                "User research, wireframing, prototyping and usability testing.",
                "Delivered a tested prototype and a usability report reviewed by a peer.",
                25,
                ("user research", "prototyping", "usability testing"),
            ),
        ),
    ),
    DemoIssuer(
        slug="ironworks-training",
        name="Ironworks Technical Training Centre",
        url="https://ironworks-training.example",
        description="A vocational training centre for the energy and building trades.",
        dev_key_index=3,
        courses=(
            Course(
                "Renewable Energy Technician",
                "License",
                "Installing and maintaining photovoltaic and small wind systems safely.",
                "Passed the practical installation exam and 120 supervised workshop hours.",
                160,
                ("photovoltaic installation", "electrical safety", "system commissioning"),
                valid_years=3,
            ),
            Course(
                "Working at Heights Safety",
                "Certification",
                "Fall protection, rescue planning and safe use of access equipment.",
                "Passed the written test and the practical rescue drill.",
                16,
                ("fall protection", "rescue planning"),
                valid_years=2,
            ),
            Course(
                "Heat Pump Installation",
                "Certification",
                "Sizing, installing and commissioning air-source heat pumps.",
                "Completed a supervised installation and passed the commissioning checklist review.",
                40,
                ("heat pumps", "refrigerant handling", "commissioning"),
                valid_years=5,
            ),
        ),
    ),
)

_GIVEN = (
    "Amara", "Luca", "Sofia", "Mateo", "Yuki", "Noah", "Priya", "Jonas", "Fatima", "Elena",
    "Kwame", "Chen", "Aisha", "Oliver", "Ines", "Tomasz", "Leila", "Diego", "Hana", "Samuel",
)  # fmt: skip
_FAMILY = (
    "Okafor", "Rossi", "García", "Nakamura", "Schmidt", "Patel", "Jensen", "Haddad", "Novak",
    "Mensah", "Wang", "Rahman", "Smith", "Costa", "Kowalski", "Moreau", "Silva", "Kim", "Dubois",
)  # fmt: skip

BASE_TIME = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)


def _seed(*parts: object) -> bytes:
    return hashlib.sha256("/".join(str(p) for p in ("registry-dev", *parts)).encode()).digest()


def _uuid(*parts: object) -> str:
    return str(uuid.UUID(bytes=_seed(*parts)[:16], version=4))


def _time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


DEMO_SERVICE_PORT = 8000  # the port of the did:web in the default DID (the default `--port`)


def demo_signing_seed(issuer: DemoIssuer) -> bytes:
    """The Ed25519 seed of ``issuer``'s DEMO signing key on the local chain: sha256 of a public
    label, so anyone can sign as it. Never use it for real credentials."""
    return hashlib.sha256(f"registry-dev/demo-signing-key/{issuer.slug}".encode()).digest()


def demo_did(issuer: DemoIssuer, *, seed: bytes | None = None, port: int = DEMO_SERVICE_PORT) -> str:
    """``issuer``'s DID: the ``did:key`` of its signing key (``seed``, default the demo seed), or
    ``did:web:127.0.0.1%3A<port>:issuers:<slug>`` for the did:web issuer."""
    from registry.signing.did import did_web
    from registry.signing.keys import signing_key

    if issuer.did_method == "web":
        return did_web(f"127.0.0.1:{port}", issuer.did_web_path)
    return signing_key(seed if seed is not None else demo_signing_seed(issuer)).did


def sample_credential(issuer: DemoIssuer, index: int, did: str | None = None) -> dict[str, Any]:
    """The ``index``-th Open Badges 3.0 credential of ``issuer`` naming ``did`` (default
    :func:`demo_did`) as its issuer; the same on every call."""
    did = did or demo_did(issuer)
    seed = _seed(issuer.slug, index)
    course = issuer.courses[seed[0] % len(issuer.courses)]
    given = _GIVEN[seed[1] % len(_GIVEN)]
    family = _FAMILY[seed[2] % len(_FAMILY)]
    issued = BASE_TIME + timedelta(days=int.from_bytes(seed[3:5], "big") % 420, minutes=seed[5] * 3)
    learner = _uuid(issuer.slug, "learner", index)
    score = 70 + seed[6] % 31
    course_slug = course.name.lower().replace(" ", "-")
    doc: dict[str, Any] = {
        "@context": list(OB3_CONTEXT),
        "id": f"urn:uuid:{_uuid(issuer.slug, 'credential', index)}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer.profile(did),
        "validFrom": _time(issued),
        "name": f"{course.name} — {issuer.name}",
        "description": f"{given} {family} completed {course.name} ({course.hours} hours) at {issuer.name}.",
        "credentialSubject": {
            "id": f"urn:uuid:{learner}",
            "type": ["AchievementSubject"],
            "name": f"{given} {family}",
            "activityEndDate": _time(issued - timedelta(days=1)),
            "achievement": {
                "id": f"{issuer.url}/achievements/{course_slug}",
                "type": ["Achievement"],
                "achievementType": course.kind,
                "name": course.name,
                "description": course.description,
                "criteria": {"narrative": course.criteria},
                "creditsAvailable": round(course.hours / 30, 1),
                "tag": list(course.skills),
                "creator": {"id": did, "type": ["Profile"], "name": issuer.name},
            },
            "result": [{"type": ["Result"], "value": f"{score}%"}],
        },
    }
    if course.valid_years:
        doc["validUntil"] = _time(issued + timedelta(days=365 * course.valid_years))
    return doc


def split_counts(total: int, n: int) -> list[int]:
    """``total`` credentials spread over ``n`` issuers as evenly as possible."""
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def documents(issuer: DemoIssuer, count: int, did: str | None = None) -> list[tuple[str, bytes]]:
    """``(source label, JSON bytes)`` of the first ``count`` credentials of ``issuer`` (as ``did``)."""
    out = []
    for i in range(count):
        doc = sample_credential(issuer, i, did)
        data = json.dumps(doc, ensure_ascii=False, indent=2).encode()
        out.append((f"dev:{issuer.slug}/{i:04d}", data))
    return out

"""Realistic Open Badges 3.0 sample credentials (pure, seeded) for benches, demos and tests."""

from __future__ import annotations

import copy
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.core.credential import CLR2_CONTEXT, OB3_CONTEXT, VC2_CONTEXT

__all__ = ["COURSES", "sample_badge", "sample_clr"]

# (title, field, hours, skills, criteria narrative)
COURSES: list[tuple[str, str, int, list[str], str]] = [
    ("Digital Marketing", "Marketing", 40,
     ["search engine optimisation", "campaign analytics", "content strategy", "paid social"],
     "Completed eight graded modules and a capstone campaign plan reviewed by a practitioner panel."),
    ("Data Analysis with Python", "Data Science", 60,
     ["pandas", "data cleaning", "exploratory analysis", "visualisation with matplotlib"],
     "Passed four notebooks-based assessments and a final analysis project scored at 70% or above."),
    ("Renewable Energy Technician", "Engineering", 120,
     ["photovoltaic installation", "inverter commissioning", "electrical safety", "site survey"],
     "Completed supervised practical hours and passed the written and hands-on safety examinations."),
    ("Cybersecurity Fundamentals", "Information Security", 45,
     ["threat modelling", "network defence", "incident response", "identity and access management"],
     "Passed the proctored final exam and completed three capture-the-flag lab exercises."),
    ("Project Management Essentials", "Management", 30,
     ["scope planning", "risk registers", "stakeholder communication", "agile delivery"],
     "Submitted a full project charter and schedule, assessed against the course rubric."),
    ("Cloud Computing Foundations", "Information Technology", 50,
     ["virtual networks", "object storage", "infrastructure as code", "cost management"],
     "Deployed and documented a three-tier application in a sandbox environment; passed the final quiz."),
    ("UX Design Principles", "Design", 35,
     ["user research", "wireframing", "usability testing", "accessibility"],
     "Delivered a tested prototype with a usability report reviewed by two instructors."),
    ("Financial Accounting Basics", "Finance", 40,
     ["double-entry bookkeeping", "financial statements", "accruals", "reconciliation"],
     "Passed all weekly problem sets and the final closed-book examination."),
    ("Machine Learning in Practice", "Data Science", 80,
     ["supervised learning", "model evaluation", "feature engineering", "scikit-learn"],
     "Built and evaluated three models on held-out data and presented the results."),
    ("Workplace First Aid", "Health and Safety", 16,
     ["CPR", "wound care", "emergency response", "incident reporting"],
     "Demonstrated every practical skill to an accredited assessor and passed the theory test."),
]

_FIRST = ["Amara", "Luca", "Sofia", "Kenji", "Priya", "Mateo", "Chloé", "Jonas", "Aisha", "Noah", "Élodie",
          "Tomasz", "Yara", "Diego", "Ingrid", "Kwame", "Mei", "Omar", "Freya", "Rafael"]
_LAST = ["Okafor", "Rossi", "García", "Tanaka", "Sharma", "Müller", "Dubois", "Nowak", "Haddad",
         "Silva", "Johansson", "Mensah", "Chen", "Kowalski",
         "Andersen", "Costa", "Nakamura", "Fischer", "Ali", "Moreau"]
_LEVELS = ["Introductory", "Intermediate", "Advanced"]
_BASE = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def sample_badge(i: int, *, issuer_id: str, issuer_name: str, seed: int = 0) -> dict[str, Any]:
    """The ``i``-th sample OpenBadgeCredential (about 1.5 KB of JSON), deterministic in (i, seed).

    Every document gets a distinct ``id`` (``urn:uuid:`` derived from the seed), a distinct
    learner and grade, and a one- to three-year validity window.
    """
    rnd = random.Random(f"{seed}:{i}")
    title, field, hours, skills, narrative = COURSES[rnd.randrange(len(COURSES))]
    level = rnd.choice(_LEVELS)
    first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
    slug = title.lower().replace(" ", "-")
    issued = _BASE + timedelta(days=rnd.randrange(300), minutes=rnd.randrange(600))
    until = issued.replace(year=issued.year + rnd.choice([1, 2, 3]))
    cred_id = uuid.UUID(int=rnd.getrandbits(128), version=4)
    learner = uuid.UUID(int=rnd.getrandbits(128), version=4)
    score = rnd.randrange(70, 101)
    code = "".join(w[0] for w in title.split()).upper()
    host = issuer_id.split("//", 1)[-1].split("/", 1)[0] if "//" in issuer_id else "example.edu"
    return {
        "@context": [VC2_CONTEXT, OB3_CONTEXT],
        "id": f"urn:uuid:{cred_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": issuer_id,
            "type": ["Profile"],
            "name": issuer_name,
            "url": f"https://{host}/",
            "email": f"credentials@{host}",
        },
        "name": f"{title} ({level})",
        "description": (f"Awarded to {first} {last} for completing {title},"
                        f" a {hours}-hour {level.lower()} course."),
        "validFrom": _ts(issued),
        "validUntil": _ts(until),
        "credentialSubject": {
            "id": f"urn:uuid:{learner}",
            "type": ["AchievementSubject"],
            "name": f"{first} {last}",
            "activityEndDate": _ts(issued - timedelta(days=rnd.randrange(1, 14))),
            "creditsEarned": round(hours / 15, 1),
            "result": [{"type": ["Result"], "value": f"{score}%", "status": "Completed"}],
            "achievement": {
                "id": f"https://{host}/achievements/{slug}/{level.lower()}",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": title,
                "description": f"{level} course in {field.lower()}: " + ", ".join(skills) + ".",
                "criteria": {"narrative": narrative},
                "fieldOfStudy": field,
                "humanCode": f"{code}-{100 + _LEVELS.index(level) * 100}",
                "tag": skills,
                "creator": {"id": issuer_id, "type": ["Profile"], "name": issuer_name},
            },
        },
    }


def sample_clr(i: int, *, issuer_id: str, issuer_name: str, seed: int = 0, count: int = 2) -> dict[str, Any]:
    """The ``i``-th sample CLR 2.0 ``ClrCredential``: ``count`` sample badges of one learner, each
    an Open Badges 3.0 credential inside the ``ClrSubject``, with their achievements and a
    ``precedes`` association between the first two. Deterministic in (i, seed).
    """
    rnd = random.Random(f"clr:{seed}:{i}")
    learner = f"urn:uuid:{uuid.UUID(int=rnd.getrandbits(128), version=4)}"
    badges = [sample_badge(i * 1000 + k, issuer_id=issuer_id, issuer_name=issuer_name, seed=seed)
              for k in range(count)]
    for b in badges:
        b["credentialSubject"]["id"] = learner
    issued = max(b["validFrom"] for b in badges)
    achievements = [copy.deepcopy(b["credentialSubject"]["achievement"]) for b in badges]
    subject: dict[str, Any] = {
        "id": learner,
        "type": ["ClrSubject"],
        "verifiableCredential": badges,
        "achievement": achievements,
    }
    if count > 1:
        subject["association"] = [{
            "type": "Association",
            "associationType": "precedes",
            "sourceId": achievements[0]["id"],
            "targetId": achievements[1]["id"],
        }]
    return {
        "@context": [VC2_CONTEXT, CLR2_CONTEXT, OB3_CONTEXT],
        "id": f"urn:uuid:{uuid.UUID(int=rnd.getrandbits(128), version=4)}",
        "type": ["VerifiableCredential", "ClrCredential"],
        "issuer": {"id": issuer_id, "type": ["Profile"], "name": issuer_name},
        "name": f"Learner record of {badges[0]['credentialSubject']['name']}",
        "description": f"{count} achievement(s) from {issuer_name}.",
        "validFrom": issued,
        "credentialSubject": subject,
    }

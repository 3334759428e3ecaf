"""``registry template new``: a starting Open Badges 3.0 template for a course.

The demo's courses (``registry.dev.demo``: Digital Marketing, Data Analysis with Python,
Renewable Energy Technician, Cybersecurity Fundamentals, …) come with their description,
criteria, hours and skills; any other course name gives a generic template with that name to
fill in. The template expects a roster with the columns ``id``, ``name``, ``email``,
``completion_date`` and ``grade`` (``grade`` may be empty). Pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from registry.dev.demo import ISSUERS, OB3_CONTEXT, Course

ROSTER_COLUMNS = ("id", "name", "email", "completion_date", "grade")


def find_course(name: str) -> Course | None:
    """The demo course called ``name`` (case and spacing ignored), or None."""
    want = " ".join(name.lower().split())
    for issuer in ISSUERS:
        for course in issuer.courses:
            if course.name.lower() == want:
                return course
    return None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "course"


def starter_template(course_name: str, *, issuer_name: str, issuer_url: str) -> dict[str, Any]:
    """A template for ``course_name`` awarded by ``issuer_name`` (whose site is ``issuer_url``)."""
    course = find_course(course_name)
    name = course.name if course else " ".join(course_name.split())
    base = issuer_url.rstrip("/")
    achievement: dict[str, Any] = {
        "id": f"{base}/achievements/{_slug(name)}",
        "type": ["Achievement"],
        "achievementType": course.kind if course else "Certificate",
        "name": name,
        "description": course.description if course else f"TODO: what a learner of {name} can do.",
        "criteria": {"narrative": course.criteria if course else f"TODO: how a learner earns {name}."},
    }
    if course:
        achievement["creditsAvailable"] = round(course.hours / 30, 1)
        achievement["tag"] = list(course.skills)
    doc: dict[str, Any] = {
        "@context": list(OB3_CONTEXT),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "{{ issuer_id }}", "type": ["Profile"], "name": issuer_name, "url": issuer_url},
        "name": f"{name} — {issuer_name}",
        "description": "{{ name }} completed " + name + (f" ({course.hours} hours)" if course else "") + ".",
        "validFrom": "{{ completion_date | datetime }}",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": "{{ name }}",
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "identityHash": "{{ email | email | identity_hash(salt) }}",
                    "salt": "{{ salt }}",
                }
            ],
            "activityEndDate": "{{ completion_date | datetime }}",
            "achievement": achievement,
            "result": [{"type": ["Result"], "value": "{{ grade | default('Completed') }}"}],
        },
    }
    if course and course.valid_years:
        doc["validUntil"] = (
            "{{ completion_date | add_years(" + str(course.valid_years) + ") | datetime }}"
        )
    return doc


def starter_columns(course_name: str) -> list[str]:
    """The roster columns the starter template of ``course_name`` uses."""
    return list(ROSTER_COLUMNS)


def starter_bytes(course_name: str, *, issuer_name: str, issuer_url: str) -> bytes:
    """The template as indented JSON."""
    doc = starter_template(course_name, issuer_name=issuer_name, issuer_url=issuer_url)
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode()

"""``credential_status``: the credential's W3C Bitstring Status List entries, read from their lists.

Two pure steps. :func:`read_list` turns the bytes of a fetched ``BitstringStatusListCredential``
(and its issuer's DID document) into a :class:`StatusList`: its bits, purpose, issuer and validity
period once its ``eddsa-rdfc-2022`` proof verified, else why it cannot be used. The fetcher
(:mod:`registry.verify.statuslists`) keeps that per TTL, so a list is parsed and its proof
checked once, not per credential. :func:`credential_status_check` then reads each entry's bit.

The rules (docs/verification.md, "Status lists"):

* A set revocation bit is ``revoked``, a set suspension bit ``suspended``; a list that cannot be
  fetched, is too large, malformed, unsigned, wrongly signed, of another issuer than the
  credential's, of another purpose than the entry's, or outside its validity period gives
  ``indeterminate`` (never valid, never revoked).
* A list the registry derives from the chain (``…/status/<the anchoring issuer's address>/<n>/
  <purpose>``) is checked *against* the chain, which stays the authority: the chain's verdict is
  the verdict. The list saying more than the chain (a bit set the chain does not show) is
  ``indeterminate`` with both named; the chain saying more (the list not republished yet) keeps
  the chain's ``revoked`` / ``suspended``, the check failed with both named. Such a list that
  cannot be fetched leaves the chain's answer (skipped, said why).
* Lists are fetched only for a document the chain shows anchored by a registered issuer whose
  registered identifier is the document's issuer: the verifier fetches no URL a document alone
  names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry.chain.schema import CredentialStatus, IssuerStatus
from registry.core.credential import parse_timestamp
from registry.core.dataintegrity.eddsa_rdfc_2022 import CRYPTOSUITE, verify_proof
from registry.core.formats import issuer_id_matches
from registry.core.status_list import (
    LIST_CREDENTIAL_TYPE,
    LIST_TYPE,
    Entry,
    Purpose,
    decode_list,
    get_bit,
    status_entries,
)
from registry.dids.document import (
    did_of,
    ed25519_public_key,
    find_verification_method,
    is_assertion_method,
    is_did,
)
from registry.dids.resolver import DidResult
from registry.errors import DataIntegrityError, ErrorCode, RegistryError
from registry.verify.checks.words import error, failed, human, passed, skipped
from registry.verify.prepared import Prepared
from registry.verify.reader import ChainView
from registry.verify.verdict import PRECEDENCE, Finding, Outcome

NAME = "credential_status"
MAX_ENTRIES = 8  # entries read per credential (each may be a list fetch)
_OURS = re.compile(r"/status/(0x[0-9a-fA-F]{40})/(\d{1,10})/(revocation|suspension)$")


@dataclass(frozen=True, eq=False)  # eq=False: identity, so a memo can key on one fetch
class StatusList:
    """One fetched list credential, verified (``bits`` set) or not (``problem`` says why).

    ``unreachable``: the list could not be had at all (network, HTTP status, size), as opposed
    to a list that was had and does not hold."""

    url: str
    bits: bytes | None = None
    purpose: str | None = None
    issuer: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    block: int | None = None  # the chain block a registry list says it reflects
    verified_by: str | None = None
    problem: str | None = None
    unreachable: bool = False
    fetched_at: float = field(default=0.0)


def list_issuer_did(body: bytes) -> str | None:
    """The issuer DID a list credential names (to resolve it before :func:`read_list`); None if none."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    issuer = doc.get("issuer") if isinstance(doc, dict) else None
    issuer = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    return did_of(issuer) if is_did(issuer) else None


def read_list(
    url: str, body: bytes, did: DidResult | None, fetched_at: float = 0.0, expected: str | None = None
) -> StatusList:
    """The list credential ``body`` fetched from ``url``, checked: JSON object, types, one
    ``BitstringStatusList`` subject, issued by ``expected`` (the credential's issuer DID, when
    given: the list of another issuer is refused before its proof is looked at), a verifying
    ``eddsa-rdfc-2022`` proof by a key of its issuer DID (``did``: that DID's resolution), a
    decodable bounded ``encodedList``."""

    def bad(problem: str) -> StatusList:
        return StatusList(url, problem=problem, fetched_at=fetched_at)

    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return bad("it is not JSON")
    if not isinstance(doc, dict):
        return bad("it is not a JSON object")
    raw_type = doc.get("type")
    types = raw_type if isinstance(raw_type, list) else [raw_type]
    if LIST_CREDENTIAL_TYPE not in types:
        return bad(f"it is not a {LIST_CREDENTIAL_TYPE}")
    subject = doc.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("type") != LIST_TYPE:
        return bad(f"its credentialSubject is not one {LIST_TYPE}")
    issuer = doc.get("issuer")
    issuer = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if not is_did(issuer):
        return bad("its issuer is not a DID, so its signature cannot be checked")
    if expected is not None and did_of(issuer) != did_of(expected):
        return bad(f"it is issued by {issuer[:200]}, not by the credential's issuer {expected[:200]}")
    try:
        valid_from = parse_timestamp(doc["validFrom"]) if "validFrom" in doc else None
        valid_until = parse_timestamp(doc["validUntil"]) if "validUntil" in doc else None
    except (RegistryError, ValueError, TypeError):
        return bad("its validFrom or validUntil is not a timestamp")
    signer = _verify(doc, did_of(issuer), did)
    if signer.startswith("!"):
        return bad(signer[1:])
    try:
        bits = decode_list(subject.get("encodedList"), min_bits=8)
    except RegistryError as exc:
        return bad(exc.message)
    return StatusList(
        url,
        bits=bits,
        purpose=str(subject.get("statusPurpose")),
        issuer=issuer,
        valid_from=valid_from,
        valid_until=valid_until,
        block=_block(doc.get("description")),
        verified_by=signer,
        fetched_at=fetched_at,
    )


def _verify(doc: Mapping[str, Any], issuer_did: str, did: DidResult | None) -> str:
    """The verification method whose proof verified, or ``"!"`` + why none did."""
    proofs = doc.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs] if proofs is not None else []
    if not any(isinstance(p, Mapping) and p.get("cryptosuite") == CRYPTOSUITE for p in proofs):
        return f"!it carries no {CRYPTOSUITE} proof (it is unsigned)"
    if did is None or did.document is None:
        why = did.error if did is not None else "it was not resolved"
        return f"!the DID document of its issuer {issuer_did} was not obtained ({why})"
    document = did.document

    def key_of(vm: str) -> bytes:
        if did_of(vm) != issuer_did:
            raise DataIntegrityError(
                f"the list is signed with {vm[:200]}, a key outside its issuer DID {issuer_did}",
                code=ErrorCode.INVALID_DATA_INTEGRITY_PROOF,
            )
        method = find_verification_method(document, vm)
        if method is None or not is_assertion_method(document, vm):
            raise DataIntegrityError(
                f"its key {vm[:200]} is not an assertion method of {issuer_did}",
                code=ErrorCode.INVALID_DATA_INTEGRITY_PROOF,
            )
        return ed25519_public_key(method)

    result = verify_proof(doc, key_of)
    if not result.verified:
        return f"!its {CRYPTOSUITE} proof does not hold: {result.reason}"
    return str(result.verification_method)


def _block(description: Any) -> int | None:
    """The block a registry list states in its description (``… at block <n>``)."""
    found = re.search(r"at block (\d{1,12})$", description) if isinstance(description, str) else None
    return int(found.group(1)) if found else None


# -- the check -------------------------------------------------------------------------------------


def entries_of(body: Mapping[str, Any]) -> tuple[tuple[Entry, ...], str | None]:
    """The document's status entries, or why they cannot be read (a malformed entry)."""
    try:
        return tuple(status_entries(body)), None
    except RegistryError as exc:
        return (), exc.message


def list_owner(prep: Prepared) -> str | None:
    """The DID a list must be issued by: the document's issuer (None when not a DID)."""
    return did_of(prep.claimed_issuer) if is_did(prep.claimed_issuer) else None


def lists_to_fetch(prep: Prepared, view: ChainView | None) -> tuple[tuple[str, ...], str | None]:
    """The list URLs to fetch (at most :data:`MAX_ENTRIES` entries) once the chain shows the
    document anchored by a registered issuer it names, else ``((), why not)``."""
    if not prep.status_entries or len(prep.status_entries) > MAX_ENTRIES:
        return (), None
    if prep.local_failed or prep.local_error:
        return (), "Not checked because an earlier check failed."
    if view is None:
        return (), "Not checked: the chain could not be read, so the lists it names were not fetched."
    rec, lk = view.issuer, view.lookup
    if not lk.batch_exists or rec is None or lk.issuer_status == IssuerStatus.none:
        return (), "Not checked: the chain does not show this credential anchored by a registered issuer."
    if prep.claimed_issuer is None or not issuer_id_matches(prep.claimed_issuer, rec.uri):
        return (), "Not checked: the document's issuer is not the issuer that anchored it."
    return tuple(dict.fromkeys(e.list_url for e in prep.status_entries)), None


@dataclass(frozen=True)
class _Read:
    """What one entry shows."""

    outcome: Outcome
    sentence: str
    ours: bool


def credential_status_check(
    prep: Prepared, view: ChainView | None, lists: Mapping[str, StatusList], now: datetime
) -> Finding:
    """``credential_status``: every ``BitstringStatusListEntry`` read from its verified list."""
    if not prep.has_document:
        return skipped(NAME, "Only a digest was presented: there is no document naming status lists.")
    if prep.status_problem is not None:
        return error(NAME, f"The credential's credentialStatus cannot be read: {prep.status_problem}.")
    if not prep.status_entries:
        return skipped(NAME, "The credential carries no BitstringStatusListEntry.")
    if len(prep.status_entries) > MAX_ENTRIES:
        return error(
            NAME, f"The credential names {len(prep.status_entries)} status entries; this verifier "
            f"reads at most {MAX_ENTRIES}, so its status cannot be told."
        )
    urls, why = lists_to_fetch(prep, view)
    if not urls or view is None:
        return skipped(NAME, why or "Not checked.")
    reads = [_entry(prep, view, e, lists.get(e.list_url), now) for e in prep.status_entries]
    return _fold(prep.status_entries, reads)


def _fold(entries: Sequence[Entry], reads: list[_Read]) -> Finding:
    """One finding from the entries' reads: the strongest outcome, every sentence."""
    sentences = " ".join(r.sentence for r in reads)
    details = {"entries": [
        {"statusListCredential": e.list_url, "statusListIndex": str(e.index), "statusPurpose": str(e.purpose),
         "result": str(r.outcome), "registry_list": r.ours}
        for e, r in zip(entries, reads, strict=True)
    ]}
    seen = {r.outcome for r in reads}
    if seen <= {Outcome.passed, Outcome.skipped}:
        if Outcome.passed not in seen:
            return skipped(NAME, sentences, **details)
        return passed(NAME, sentences, **details)
    worst = next(o for o, _ in PRECEDENCE if o in seen)
    if worst is Outcome.indeterminate and not any(r.ours and r.outcome is worst for r in reads):
        return error(NAME, sentences, **details)
    return failed(NAME, sentences, worst, **details)


def registry_list(entry: Entry, anchoring_issuer: str) -> bool:
    """True when the entry's list is one the registry derives from the chain for this issuer."""
    found = _OURS.search(entry.list_url.split("?", 1)[0].split("#", 1)[0])
    if found is None:
        return False
    return found.group(1).lower() == anchoring_issuer.lower() and found.group(3) == str(entry.purpose)


def chain_says(view: ChainView, purpose: Purpose) -> bool:
    """The chain's answer for one purpose: revoked (credential or batch) / suspended and not revoked."""
    lk = view.lookup
    revoked = lk.credential_status == CredentialStatus.revoked or bool(lk.batch_revoked_at)
    if purpose is Purpose.revocation:
        return revoked
    return not revoked and lk.credential_status == CredentialStatus.suspended


def _entry(prep: Prepared, view: ChainView, e: Entry, lst: StatusList | None, now: datetime) -> _Read:
    ours = registry_list(e, view.lookup.issuer)
    where = f"{e.purpose} list {e.list_url[:200]} (index {e.index})"
    problem = _unusable(prep, e, lst, now, ours)
    if problem is not None:
        if ours and (lst is None or lst.unreachable):
            return _Read(Outcome.skipped, f"The registry's {where} could not be read ({problem}); "
                         "the chain's answer stands.", True)
        return _Read(Outcome.indeterminate, f"The {where} cannot be used: {problem}; the credential's "
                     f"{e.purpose} status cannot be told from it.", ours)
    assert lst is not None and lst.bits is not None
    bit = get_bit(lst.bits, e.index)
    state = "revoked" if e.purpose is Purpose.revocation else "suspended"
    outcome = Outcome.revoked if e.purpose is Purpose.revocation else Outcome.suspended
    signed = f"signed by {lst.verified_by}"
    if not ours:
        if bit:
            return _Read(outcome, f"The {where}, {signed}, marks the credential {state}.", False)
        return _Read(Outcome.passed, f"The {where}, {signed}, does not mark the credential {state}.", False)
    chain = chain_says(view, e.purpose)
    at = f" (reflecting block {lst.block})" if lst.block is not None else ""
    if bit == chain:
        words = f"marks it {state}, as the chain does" if bit else f"agrees with the chain: not {state}"
        sentence = f"The registry's {where}{at}, {signed}, {words}."
        return _Read(outcome if bit else Outcome.passed, sentence, True)
    if chain:
        return _Read(outcome, f"The chain records the credential {state}, but the registry's {where}{at} "
                     "does not show it yet: the chain is the authority and the list is behind "
                     "(it is republished within the publication bound).", True)
    lag = lst.block is not None and lst.block > view.head
    why = (f"the list reflects block {lst.block}, newer than the chain's head {view.head} read here: "
           "the chain read is behind; try again shortly" if lag else
           "the list contradicts the chain, which is the authority: the list is wrong")
    return _Read(Outcome.indeterminate, f"The registry's {where}{at} marks the credential {state}, but the "
                 f"chain does not ({why}); the status cannot be told until they agree.", True)


def _unusable(prep: Prepared, e: Entry, lst: StatusList | None, now: datetime, ours: bool) -> str | None:
    """Why the list cannot answer for this entry, or None. A registry list of a credential whose
    issuer is not a DID is signed by the registry's status key (docs/status-lists.md): its issuer
    cannot be the credential's, and it is compared with the chain all the same."""
    if lst is None:
        return "this verifier reads no status lists"
    if lst.problem is not None:
        return lst.problem
    assert lst.bits is not None
    if lst.purpose != str(e.purpose):
        return f"its statusPurpose is {str(lst.purpose)[:40]!r}, not the entry's {str(e.purpose)!r}"
    doc_issuer = list_owner(prep)
    if (doc_issuer is not None or not ours) and (lst.issuer is None or did_of(lst.issuer) != doc_issuer):
        return (f"it is issued by {str(lst.issuer)[:200]}, not by the credential's issuer "
                f"{str(prep.claimed_issuer)[:200]}")
    if lst.valid_from is not None and now < lst.valid_from:
        return f"it is valid only from {human(lst.valid_from)}"
    if lst.valid_until is not None and now >= lst.valid_until:
        return f"it expired on {human(lst.valid_until)} (its issuer has not republished it)"
    if e.index >= len(lst.bits) * 8:
        return f"index {e.index} is outside its {len(lst.bits) * 8} entries"
    return None

"""Uploaded files: the credential inside a certificate PDF or an Open Badges 3.0 baked badge is
taken out (:mod:`registry.keepsakes.extract`, bounded by the settings) and verified like the JSON;
the result's ``source`` says where it came from. Used by ``registry verify FILE`` (through the
session) and the service's ``POST /api/v1/verify/file`` (the page's file upload)."""

from __future__ import annotations

from registry.keepsakes.extract import Extracted, Limits, extract_credential
from registry.settings import Settings
from registry.verify.result import SourceInfo, VerificationResult


def limits(settings: Settings) -> Limits:
    """The extraction caps: an embedded credential is held to the document size cap."""
    return Limits(max_credential_bytes=settings.max_document_bytes)


def unwrap(data: bytes, settings: Settings) -> Extracted:
    """The credential carried by ``data`` (JSON passes through unchanged); ``InputError`` for a
    PDF or image with none, with several, over a cap, or unsafe."""
    return extract_credential(data, limits(settings))


def with_source(result: VerificationResult, upload: Extracted) -> VerificationResult:
    """``result`` noting the file the credential was taken from (unchanged for JSON)."""
    source = upload.source()
    return result if source is None else result.model_copy(update={"source": SourceInfo(**source)})

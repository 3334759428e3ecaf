"""One exception family and one catalogue of stable error codes, shared by every layer.

Every code the registry emits is a member of :class:`ErrorCode`, and beside it stand the CLI exit
code and the HTTP status of an error carrying it: the CLI prints ``code: message`` on one line and
exits with ``exc.exit_code``; the HTTP API maps an error to an RFC 9457 problem document whose
``type`` ends in the code and whose status is ``exc.http_status``. Codes are stable: other programs
match on them. Messages must never contain secrets (private keys, passwords).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit codes of the ``registry`` command."""

    OK = 0
    FAILED = 1  # a registry error, or a run that did not finish its work (a batch not anchored)
    INPUT = 2  # bad input: some documents rejected, malformed files, usage errors
    CHAIN_UNAVAILABLE = 3  # the chain node cannot be reached (or answers for another chain)
    INTERNAL = 70  # an unexpected exception (a bug)
    INTERRUPTED = 130  # SIGINT / SIGTERM


_INPUT = (ExitCode.INPUT, 422)
_CHAIN = (ExitCode.CHAIN_UNAVAILABLE, 503)
_STORE = (ExitCode.FAILED, 503)
_CONFIG = (ExitCode.FAILED, 500)
_OTHER = (ExitCode.FAILED, 400)


class ErrorCode(StrEnum):
    """Every stable error code, with the exit code and HTTP status of an error carrying it.

    A member is its code string (``ErrorCode.NOT_FOUND == "not_found"``), so stored and printed
    values are plain strings.
    """

    exit_code: ExitCode
    http_status: int

    def __new__(cls, value: str, exit_code: ExitCode, http_status: int) -> ErrorCode:
        """A code with its exit code and HTTP status."""
        member = str.__new__(cls, value)
        member._value_ = value
        member.exit_code = exit_code
        member.http_status = http_status
        return member

    # generic (the defaults of the exception classes below)
    REGISTRY_ERROR = "registry_error", *_OTHER
    INVALID_INPUT = "invalid_input", *_INPUT
    CONFIG_ERROR = "config_error", *_CONFIG
    CHAIN_UNAVAILABLE = "chain_unavailable", *_CHAIN
    CONTRACT_REVERT = "contract_revert", ExitCode.FAILED, 409
    STORE_ERROR = "store_error", *_STORE
    NOT_FOUND = "not_found", ExitCode.FAILED, 404
    KEY_ERROR = "key_error", *_CONFIG
    # strict JSON and the canonical form (registry.core.canonical)
    CANONICALIZATION_FAILED = "canonicalization_failed", *_INPUT
    DOCUMENT_TOO_LARGE = "document_too_large", *_INPUT
    INVALID_UTF8 = "invalid_utf8", *_INPUT
    INVALID_JSON = "invalid_json", *_INPUT
    DUPLICATE_KEY = "duplicate_key", *_INPUT
    NON_FINITE_NUMBER = "non_finite_number", *_INPUT
    INTEGER_OUT_OF_RANGE = "integer_out_of_range", *_INPUT
    NESTING_TOO_DEEP = "nesting_too_deep", *_INPUT
    INVALID_UNICODE = "invalid_unicode", *_INPUT
    NOT_AN_OBJECT = "not_an_object", *_INPUT
    UNSUPPORTED_VALUE = "unsupported_value", *_INPUT
    # credentials, proofs, manifests, hex, CIDs, Merkle trees
    INVALID_CREDENTIAL = "invalid_credential", *_INPUT
    INVALID_DATE = "invalid_date", *_INPUT
    INVALID_ANCHOR_PROOF = "invalid_anchor_proof", *_INPUT
    MULTIPLE_ANCHOR_PROOFS = "multiple_anchor_proofs", *_INPUT
    INVALID_MANIFEST = "invalid_manifest", *_INPUT
    MANIFEST_ROOT_MISMATCH = "manifest_root_mismatch", *_INPUT
    INVALID_ADDRESS = "invalid_address", *_INPUT
    INVALID_REGISTRY = "invalid_registry", *_INPUT
    INVALID_TIMESTAMP = "invalid_timestamp", *_INPUT
    INVALID_HEX = "invalid_hex", *_INPUT
    INVALID_CID = "invalid_cid", *_INPUT
    UNSUPPORTED_CID = "unsupported_cid", *_INPUT
    INVALID_LEAF = "invalid_leaf", *_INPUT
    INVALID_PROOF = "invalid_proof", *_INPUT
    DUPLICATE_INDEX = "duplicate_index", *_INPUT
    EMPTY_TREE = "empty_tree", *_INPUT
    NOT_IN_TREE = "not_in_tree", *_INPUT
    # Data Integrity proofs, JSON-LD and DIDs (registry.core.dataintegrity)
    UNKNOWN_CONTEXT = "unknown_context", *_INPUT
    JSONLD_ERROR = "jsonld_error", *_INPUT
    INVALID_DID = "invalid_did", *_INPUT
    INVALID_MULTIKEY = "invalid_multikey", *_INPUT
    INVALID_DATA_INTEGRITY_PROOF = "invalid_data_integrity_proof", *_INPUT
    # intake outcomes and issuer commands
    ISSUER_MISMATCH = "issuer_mismatch", *_INPUT
    UNREADABLE = "unreadable", *_INPUT
    UNPROCESSABLE = "unprocessable", *_INPUT
    UNREADABLE_FILE = "unreadable_file", *_INPUT
    NO_DIGESTS = "no_digests", *_INPUT
    REASON_REQUIRED = "reason_required", *_INPUT
    TOO_MANY = "too_many", *_INPUT
    INVALID_CURSOR = "invalid_cursor", *_INPUT
    OBJECT_TOO_LARGE = "object_too_large", *_INPUT
    REQUEST_TOO_LARGE = "request_too_large", ExitCode.FAILED, 413
    # chain
    WRONG_CHAIN = "wrong_chain", *_CHAIN
    NO_CONTRACT = "no_contract", *_CHAIN
    REORG_DETECTED = "reorg_detected", *_CHAIN
    NO_FINALIZED_TAG = "no_finalized_tag", *_CHAIN
    # content store
    STORE_UNAVAILABLE = "store_unavailable", *_STORE
    STORE_INTEGRITY = "store_integrity", *_STORE
    CID_MISMATCH = "cid_mismatch", *_STORE
    IPFS_DAEMON_FAILED = "ipfs_daemon_failed", *_STORE
    # configuration and runs
    BUSY = "busy", ExitCode.FAILED, 409  # another process holds the lock
    COMPILE_FAILED = "compile_failed", *_CONFIG
    ARTIFACT_MISMATCH = "artifact_mismatch", *_OTHER
    CORRUPT = "corrupt", *_OTHER
    ROOT_TAKEN = "root_taken", *_OTHER
    SAMPLE_REJECTED = "sample_rejected", *_OTHER
    STOPPED = "stopped", *_OTHER
    # status lists (registry.core.status_list)
    MALFORMED_STATUS_LIST = "malformed_status_list", *_INPUT
    # issue 12 part D: intake accepts what the standards accept (registry.core.credential)
    VC1_NOT_SUPPORTED = "vc1_not_supported", *_INPUT
    SCHEMA_VIOLATION = "schema_violation", *_INPUT
    UNDEFINED_TERM = "undefined_term", *_INPUT
    # part C (issue 12): DID resolution for the verifier (registry.dids)
    DID_UNRESOLVABLE = "did_unresolvable", *_STORE
    # issue 12 part B: issuer signatures at intake
    ISSUER_NOT_SIGNING_DID = "issuer_not_signing_did", *_INPUT
    SIGNING_FAILED = "signing_failed", *_INPUT
    NO_SIGNING_KEY = "no_signing_key", *_CONFIG
    # status lists derived from the chain (issue 13, part G: registry/status)
    STATUS_INDEX_TAKEN = "status_index_taken", *_OTHER
    STATUS_SIGNING_KEY_MISSING = "status_signing_key_missing", *_CONFIG
    # delivery by email (issue 15 item 3: registry/deliver)
    SMTP_UNAVAILABLE = "smtp_unavailable", *_STORE  # server unreachable, TLS failed: nothing sent
    SMTP_AUTH_FAILED = "smtp_auth_failed", *_CONFIG  # never retried: a wrong password locks accounts
    DELIVERY_TEMPLATE_INVALID = "delivery_template_invalid", *_CONFIG
    STATUS_LIST_NOT_FOUND = "status_list_not_found", ExitCode.FAILED, 404
    # issue 13 part I (verify-status): the verifier reads credentialStatus (registry.net)
    FETCH_FAILED = "fetch_failed", *_STORE
    # issue 15 (roster): templates, rosters, preview, discard, corrections (registry/roster)
    ROSTER_UNREADABLE = "roster_unreadable", *_INPUT
    ROSTER_ENCODING = "roster_encoding", *_INPUT
    ROSTER_TOO_LARGE = "roster_too_large", *_INPUT
    MISSING_COLUMN = "missing_column", *_INPUT
    BAD_HEADER = "bad_header", *_INPUT
    BAD_ROW = "bad_row", *_INPUT
    DUPLICATE_ROW = "duplicate_row", *_INPUT
    INVALID_CELL = "invalid_cell", *_INPUT
    EMPTY_CELL = "empty_cell", *_INPUT
    INVALID_TEMPLATE = "invalid_template", *_INPUT
    TEMPLATE_REFUSED = "template_refused", *_INPUT
    ROSTER_ROW_CHANGED = "roster_row_changed", *_INPUT
    NOT_DISCARDABLE = "not_discardable", ExitCode.FAILED, 409
    CORRECTION_REFUSED = "correction_refused", ExitCode.FAILED, 409
    CORRECTION_PENDING = "correction_pending", ExitCode.FAILED, 409
    # issue 14 items 4-5 (vcapi): W3C VC-API requests and bulk verification (registry.verify.bulk)
    BAD_REQUEST = "bad_request", ExitCode.INPUT, 400  # a VC-API request the spec calls invalid input
    BULK_LIMIT = "bulk_limit", ExitCode.INPUT, 413  # too many files / bytes in one bulk verification
    ARCHIVE_REFUSED = "archive_refused", *_INPUT  # a ZIP (member) that is not opened: bomb, nested, ...
    # issue 14 item 3 (keepsakes): credentials inside uploaded PDFs and baked badges (registry.keepsakes)
    CONTAINER_MALFORMED = "container_malformed", *_INPUT
    CONTAINER_TOO_LARGE = "container_too_large", *_INPUT
    NO_EMBEDDED_CREDENTIAL = "no_embedded_credential", *_INPUT
    AMBIGUOUS_EMBEDDED_CREDENTIAL = "ambiguous_embedded_credential", *_INPUT
    UNSAFE_XML = "unsafe_xml", *_INPUT
    VC_JWT_NOT_SUPPORTED = "vc_jwt_not_supported", *_INPUT


class RegistryError(Exception):
    """Base class: every error the registry raises on purpose carries a stable ``code``.

    ``exit_code`` and ``http_status`` are those the catalogue gives the code (an instance may
    still set ``http_status`` for one answer).
    """

    code: ErrorCode = ErrorCode.REGISTRY_ERROR

    def __init__(self, message: str, *, code: ErrorCode | str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        # a code outside the catalogue is a bug: ValueError (tests/core check every literal)
        self.code = ErrorCode(code if code is not None else self.code)  # type: ignore[call-arg]
        self.details = details
        self.exit_code: ExitCode = self.code.exit_code
        self.http_status: int = self.code.http_status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InputError(RegistryError):
    """Bad input from a user: malformed JSON, wrong types, oversized documents."""

    code = ErrorCode.INVALID_INPUT


class CanonicalizationError(InputError):
    """A document that JCS cannot represent faithfully."""

    code = ErrorCode.CANONICALIZATION_FAILED


class ValidationError(InputError):
    """A credential that does not follow the W3C VC / Open Badges structure."""

    code = ErrorCode.INVALID_CREDENTIAL


class ConfigError(RegistryError):
    """Missing or inconsistent configuration."""

    code = ErrorCode.CONFIG_ERROR


class ChainError(RegistryError):
    """The chain could not be read or written (node down, timeout, garbage answer)."""

    code = ErrorCode.CHAIN_UNAVAILABLE


class ContractRevert(RegistryError):
    """A transaction or call reverted with a known custom error (its name in ``error_name``)."""

    code = ErrorCode.CONTRACT_REVERT

    @property
    def error_name(self) -> str | None:
        """The contract's custom error (``NotActiveIssuer``, ``BatchAlreadyAnchored``…), if known."""
        name = self.details.get("error")
        return str(name) if name is not None else None


class StoreError(RegistryError):
    """The content store (local folder or IPFS daemon) failed or returned bad content."""

    code = ErrorCode.STORE_ERROR


class NotFoundError(RegistryError):
    """A requested object does not exist."""

    code = ErrorCode.NOT_FOUND


class KeyError_(RegistryError):
    """A signing key could not be loaded (wrong password, missing file). Never includes the key."""

    code = ErrorCode.KEY_ERROR


class DataIntegrityError(InputError):
    """A Data Integrity proof, JSON-LD context, DID or Multikey that cannot be used."""

    code = ErrorCode.INVALID_DATA_INTEGRITY_PROOF


# delivery by email (issue 15 item 3: registry/deliver)


class SmtpError(RegistryError):
    """The SMTP server cannot be used (unreachable, no TLS, AUTH refused). Never shows the password."""

    code = ErrorCode.SMTP_UNAVAILABLE

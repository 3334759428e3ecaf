"""Which file ``GET /<path>/did.json`` serves from ``REGISTRY_DID_DOCUMENTS_DIR`` (pure part; the
route itself is exercised on the real service by tests/dev/test_dev_signed.py)."""

from __future__ import annotations

import json
from pathlib import Path

from registry.verify.did_documents import did_document_file, read_did_document

DOC = {"@context": ["https://www.w3.org/ns/did/v1"], "id": "did:web:127.0.0.1%3A8000:issuers:a"}


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_only_did_json_files_inside_the_folder_are_served(tmp_path: Path) -> None:
    root = tmp_path / "dids"
    body = json.dumps(DOC).encode()
    _write(root / "issuers" / "a" / "did.json", body)
    _write(root / ".well-known" / "did.json", body)
    _write(tmp_path / "secret" / "did.json", body)  # outside the folder
    (root / "issuers" / "link").symlink_to(tmp_path / "secret")
    assert read_did_document(root, "issuers/a", 4096) == body
    assert read_did_document(root, ".well-known", 4096) == body
    assert read_did_document(root, "issuers/b", 4096) is None
    assert read_did_document(root, "issuers/link", 4096) is None  # a symlink out of the folder
    for path in ("issuers/../../secret", "..", "issuers//a", "a\x00", "/".join(["a"] * 17), ""):
        assert did_document_file(root, path) is None, path


def test_too_large_or_not_a_json_object_is_not_served(tmp_path: Path) -> None:
    root = tmp_path / "dids"
    _write(root / "big" / "did.json", json.dumps({**DOC, "pad": "x" * 2000}).encode())
    _write(root / "list" / "did.json", b"[1, 2]")
    _write(root / "broken" / "did.json", b"{not json")
    for name in ("big", "list", "broken"):
        assert read_did_document(root, name, 1024) is None, name
    assert read_did_document(root, "big", 4096) is not None  # under a larger cap it is served

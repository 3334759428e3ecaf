"""The issuer side without a chain: documents written beside proof files, only the missing ones,
atomically, the same bytes whether rendered here or in worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from keepsake_kit import as_bytes, credential

from registry.anchor import keepsakes
from registry.anchor.keepsakes import KeepsakeOptions, missing, render, write
from registry.core.canonical import document_digest
from registry.keepsakes.extract import extract_credential

OPTS = KeepsakeOptions("https://verify.example.edu", pdf="a4", badge="svg", qr=True)


def _proof_files(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        doc = credential(i)
        digest = "0x" + document_digest(doc).hex()
        (folder / f"{digest}.json").write_bytes(as_bytes(doc))
        names.append(digest)
    return sorted(names)


@pytest.mark.parametrize("parallel_from", [1000, 3])  # in this process; in spawned workers
def test_write_renders_missing_documents_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_from: int
) -> None:
    monkeypatch.setattr(keepsakes, "PARALLEL_FROM", parallel_from)
    digests = _proof_files(tmp_path, 5)
    (tmp_path / "not-a-proof.json").write_text("{}")
    assert missing(tmp_path, OPTS) == digests
    problems: list[str] = []
    assert write(tmp_path, [*digests, "0x" + "ee" * 32], OPTS, say=problems.append) == 15
    assert len(problems) == 1 and "cannot read its proof file" in problems[0]
    assert missing(tmp_path, OPTS) == [] and not list(tmp_path.glob(".*.tmp"))
    for d in digests:
        data = (tmp_path / f"{d}.json").read_bytes()
        docs = render(data, OPTS)  # the same bytes as rendered in this process
        for suffix in (".pdf", ".svg", ".qr.png"):
            assert (tmp_path / f"{d}{suffix}").read_bytes() == docs[suffix]
        assert extract_credential(docs[".pdf"]).data == data
    assert write(tmp_path, digests, OPTS) == 0  # nothing missing
    (tmp_path / f"{digests[0]}.svg").unlink()
    assert missing(tmp_path, OPTS) == [digests[0]]
    assert write(tmp_path, digests, OPTS) == 1
    assert write(tmp_path, digests[:1], OPTS, force=True) == 3


def test_a_proof_file_that_is_not_json_is_reported_not_fatal(tmp_path: Path) -> None:
    digests = _proof_files(tmp_path, 1)
    bad = "0x" + "aa" * 32
    (tmp_path / f"{bad}.json").write_bytes(b"not json")
    problems: list[str] = []
    assert write(tmp_path, [bad, *digests], OPTS, say=problems.append) == 3
    assert len(problems) == 1 and bad in problems[0] and "invalid_json" in problems[0]

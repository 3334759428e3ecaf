"""``registry anchor --pdf/--badge/--qr`` and ``registry keepsakes`` with the real pipeline on anvil:
each credential's certificate and baked badge carry its proof file's exact bytes and verify; the
QR code is the permanent link; a killed run and a rerun leave every document written, unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import zxingcpp
from PIL import Image
from pipeline_kit import Chain, issuer_env, issuer_settings, run_cli, verify_proof_file, write_docs

from registry.core.formats import format_registry
from registry.keepsakes.extract import extract_credential
from registry.settings import load_settings
from registry.verify.qr import verification_link
from registry.verify.session import VerificationSession

PUBLIC = "https://verify.example.edu"


def _issue(chain: Chain, tmp_path: Path, n: int, **extra: str) -> tuple[dict[str, str], Path]:
    data = tmp_path / "data"
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), data,
                     f"sqlite:///{tmp_path / 'r.db'}", public_url=PUBLIC, **extra)
    write_docs(tmp_path / "d.jsonl", n, seed=f"keepsakes-{tmp_path.name}")
    issued = run_cli(["issue", str(tmp_path / "d.jsonl")], env)
    assert issued.returncode == 0, issued.stderr
    return env, data / "proofs"


def _proofs(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("0x*.json"))


def test_anchor_writes_documents_that_verify(chain: Chain, tmp_path: Path) -> None:
    env, out = _issue(chain, tmp_path, 3)
    res = run_cli(["anchor", "--pdf", "a4", "--badge", "png", "--qr"], env)
    assert res.returncode == 0, res.stderr
    assert "certificate/badge file(s) written" in res.stderr
    proofs = _proofs(out)
    assert len(proofs) == 3
    assert not list(out.glob(".*.tmp"))  # every temporary file renamed
    trusted = format_registry(int(chain.w3.eth.chain_id), chain.registry.address)
    settings = load_settings(rpc_url=chain.url, trusted_registries=[trusted])
    with VerificationSession(settings) as session:
        for proof_file in proofs:
            proof = verify_proof_file(proof_file, chain)
            stem = proof_file.name[:-5]
            data = proof_file.read_bytes()
            pdf = (out / f"{stem}.pdf").read_bytes()
            png = (out / f"{stem}.png").read_bytes()
            assert extract_credential(pdf).data == data  # the proof file's exact bytes
            assert extract_credential(png).data == data
            link = verification_link(PUBLIC, proof.digest, proof.issuer)
            qr = zxingcpp.read_barcodes(Image.open(out / f"{stem}.qr.png"))
            assert [q.text for q in qr] == [link]
            for doc in (pdf, png):
                result = session.verify(doc)
                assert result.status.value == "valid", result.summary
                assert result.digest == proof.digest


def test_rerun_and_keepsakes_command_write_missing_documents_unchanged(chain: Chain, tmp_path: Path) -> None:
    env, out = _issue(chain, tmp_path, 2)
    assert run_cli(["anchor", "--pdf", "letter"], env).returncode == 0
    first = {p.name: p.read_bytes() for p in out.glob("0x*.pdf")}
    assert len(first) == 2
    gone = sorted(first)[0]
    (out / gone).unlink()
    again = run_cli(["anchor", "--pdf", "letter"], env)  # nothing new to anchor: catch up only
    assert again.returncode == 0, again.stderr
    assert {p.name: p.read_bytes() for p in out.glob("0x*.pdf")} == first  # the same bytes

    svg = run_cli(["keepsakes", "--all", "--badge", "svg", "--json"], env)
    assert svg.returncode == 0, svg.stderr
    assert json.loads(svg.stdout)["written"] == 2 and len(list(out.glob("0x*.svg"))) == 2
    assert json.loads(run_cli(["keepsakes", "--all", "--badge", "svg", "--json"], env).stdout)["written"] == 0
    digest = gone[:-4]
    a4 = run_cli(["keepsakes", digest, "--pdf", "a4", "--force"], env)
    assert a4.returncode == 0 and "1 file(s) written" in a4.stdout
    assert (out / gone).read_bytes() != first[gone]  # A4 now, no longer Letter
    unknown = run_cli(["keepsakes", "0x" + "ab" * 32, "--pdf", "a4"], env)
    assert unknown.returncode == 1 and "cannot read its proof file" in unknown.stderr
    assert run_cli(["keepsakes", "--pdf", "a4"], env).returncode == 2  # neither digests nor --all


def test_killed_while_writing_documents_then_rerun(chain: Chain, tmp_path: Path) -> None:
    env, out = _issue(chain, tmp_path, 2)
    killed = run_cli(["anchor", "--badge", "png"], {**env, "REGISTRY_TEST_CRASH_AT": "mid-keepsakes"})
    assert killed.returncode == -9
    assert len(_proofs(out)) == 2 and not list(out.glob("0x*.png"))  # proofs durable, badges not yet
    assert len(list(out.glob(".*.png.tmp"))) == 2
    rerun = run_cli(["anchor", "--badge", "png"], env)
    assert rerun.returncode == 0, rerun.stderr
    for proof_file in _proofs(out):
        badge = out / (proof_file.name[:-5] + ".png")
        assert extract_credential(badge.read_bytes()).data == proof_file.read_bytes()


def test_withdrawn_proofs_take_their_documents_with_them(chain: Chain, tmp_path: Path) -> None:
    from registry.anchor.context import build_pipeline
    from registry.anchor.keepsakes import KeepsakeWriter, options_from
    from registry.db import open_database

    env, out = _issue(chain, tmp_path, 2)
    settings = issuer_settings(chain, tmp_path / "data", f"sqlite:///{tmp_path / 'r.db'}", public_url=PUBLIC)
    db = open_database(settings=settings)
    pipe = build_pipeline(settings, db)
    opts = options_from(settings, pdf="a4", qr=True)
    assert opts is not None
    pipe.keepsakes = KeepsakeWriter(opts)
    pipe.run_once()
    assert len(list(out.glob("0x*.pdf"))) == 2 and len(list(out.glob("0x*.qr.png"))) == 2
    batch = pipe.open_batches() or None
    assert batch is None  # done
    from sqlmodel import select

    from registry.db import Batch

    with db.session() as s:
        done = list(s.exec(select(Batch)))
    pipe._withdraw_proofs(done[0])  # what a reorg does
    assert not list(out.glob("0x*"))  # proofs and their documents gone
    pipe.run_once()  # final again: proofs, then their documents, written again
    assert len(_proofs(out)) == 2 and len(list(out.glob("0x*.pdf"))) == 2
    for proof_file in _proofs(out):
        pdf = (out / (proof_file.name[:-5] + ".pdf")).read_bytes()
        assert extract_credential(pdf).data == proof_file.read_bytes()
    db.close()


def test_documents_need_the_public_url(chain: Chain, tmp_path: Path) -> None:
    env, _ = _issue(chain, tmp_path, 1)
    env.pop("REGISTRY_PUBLIC_URL")
    res = run_cli(["anchor", "--pdf", "a4"], env)
    assert res.returncode == 1 and "REGISTRY_PUBLIC_URL" in res.stderr
    bad = run_cli(["anchor", "--pdf", "a5"], {**env, "REGISTRY_PUBLIC_URL": PUBLIC})
    assert bad.returncode == 1 and "a4 or letter" in bad.stderr
    assert not list((tmp_path / "data" / "proofs").glob("0x*.json"))  # refused before anchoring


def test_documents_with_batch_proof_files_are_refused_before_anchoring(chain: Chain, tmp_path: Path) -> None:
    """Batch proof files hold no per-credential file to render from: refused, with the way out."""
    env, _ = _issue(chain, tmp_path, 1)
    res = run_cli(["anchor", "--pdf", "a4"], {**env, "REGISTRY_PROOF_FILES": "batch"})
    assert res.returncode == 1 and "registry proofs export" in res.stderr
    assert not list((tmp_path / "data" / "proofs").rglob("0x*"))  # nothing anchored, nothing written

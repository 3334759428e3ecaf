"""A registrar's roster, as the CLI runs it against a real anvil: issue, preview, anchor, verify,
rerun, bad rows, discard."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_kit import Chain, run_cli, verify_proof_file
from roster_kit import LEARNERS, cli_json, env_for, issue, new_template, proof_files, write_roster


def test_roster_issue_preview_anchor_verify_and_rerun(chain: Chain, tmp_path: Path) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json")
    roster = write_roster(tmp_path / "learners.csv", LEARNERS)
    rc, rep, err = issue(env, tpl, roster)
    assert rc == 0, err
    assert (rep["rows"], rep["accepted"], rep["errors"]) == (5, 5, 0)
    digests = {r["digest"] for r in rep["results"]}
    assert [r["row"] for r in rep["results"]] == [2, 3, 4, 5, 6]
    assert rep["results"][0]["email"] == "amara@example.org"

    pv = cli_json(env, "preview")
    assert pv["queued"] == 5 and pv["achievements"] == [{"name": "Data Analysis with Python", "count": 5}]
    assert pv["valid_from"] == {"first": "2026-03-01T00:00:00Z", "last": "2026-03-05T00:00:00Z"}
    assert pv["warnings"] == []
    assert proof_files(env) == []  # nothing anchored before `registry anchor`

    anchored = cli_json(env, "anchor")
    assert anchored["credentials_anchored"] == 5
    files = proof_files(env)
    assert {f.name[:-5] for f in files} == digests
    for f in files:
        verify_proof_file(f, chain)
        res = run_cli(["verify", str(f), "--json"], env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert json.loads(res.stdout)["status"] == "valid"
    doc = json.loads(files[0].read_text())
    assert doc["id"].startswith("urn:uuid:") and doc["credentialSubject"]["identifier"][0]["hashed"] is True
    assert "@example.org" not in json.dumps(doc)  # the email is hashed, not published

    rc, again, err = issue(env, tpl, roster)  # the same roster again: nothing new
    assert rc == 0, err
    assert (again["accepted"], again["duplicate"]) == (0, 5)
    assert {r["digest"] for r in again["results"]} == digests
    assert cli_json(env, "anchor")["credentials_anchored"] == 0
    assert len(chain.anchored_events()) == 1

    st = cli_json(env, "status")
    runs = {r["run"]: r for r in st["roster_runs"]}
    assert runs[1]["rows"] == 5 and runs[1]["credentials"] == {"anchored": 5}
    assert runs[2]["ok"] == 5 and runs[2]["errors"] == 0
    human = run_cli(["status"], env)
    assert "roster run 1 (issue)" in human.stdout and "5 anchored" in human.stdout


def test_bad_rows_are_reported_by_number_and_column_and_the_rest_issued(chain: Chain, tmp_path: Path) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json", "Cybersecurity Fundamentals")
    rows = [
        LEARNERS[0],
        ("1002", "Luca Rossi", "not-an-email", "2026-03-02", ""),  # row 3: bad email
        ("1003", "Sofia García", "sofia@example.org", "2026-13-03", ""),  # row 4: bad date
        LEARNERS[0],  # row 5: duplicate row
        ("1005", "", "priya@example.org", "2026-03-05", ""),  # row 6: empty name
        ("", "No Id", "noid@example.org", "2026-03-05", ""),  # row 7: no key
        LEARNERS[3],
    ]
    roster = write_roster(tmp_path / "bad.csv", rows)
    with roster.open("a") as fh:
        fh.write("1009,Extra Cell,x@example.org,2026-03-01,A,surprise\n")  # row 9: too many cells
    rc, rep, _ = issue(env, tpl, roster)
    assert rc == 2
    errors = {r["row"]: (r["code"], r.get("column")) for r in rep["results"] if r["status"] == "error"}
    assert errors == {
        3: ("invalid_cell", "email"),
        4: ("invalid_cell", "completion_date"),
        5: ("duplicate_row", "id"),
        6: ("empty_cell", "name"),
        7: ("empty_cell", "id"),
        9: ("bad_row", None),
    }
    dup = next(r for r in rep["results"] if r["row"] == 5)
    assert "row 2" in dup["message"]
    ok = {r["digest"] for r in rep["results"] if r["status"] == "accepted"}
    assert len(ok) == 2
    human = run_cli(["issue", "--template", str(tpl), "--roster", str(roster)], env)
    assert (
        "row 3, column email: invalid_cell" in human.stdout
        and "row 4, column completion_date" in human.stdout
    )
    assert cli_json(env, "anchor")["credentials_anchored"] == 2
    assert {f.name[:-5] for f in proof_files(env)} == ok


def test_missing_column_and_wrong_encoding_issue_nothing(chain: Chain, tmp_path: Path) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json")
    no_date = write_roster(
        tmp_path / "no-date.csv", [r[:3] + r[4:] for r in LEARNERS], "id,name,email,grade\n"
    )
    rc, _, err = issue(env, tpl, no_date)
    assert rc == 2 and "missing_column" in err and "completion_date" in err and "row 1" in err
    latin = write_roster(tmp_path / "latin1.csv", LEARNERS, encoding="latin-1")  # García
    rc, _, err = issue(env, tpl, latin)
    assert rc == 2 and "roster_encoding" in err and "row 4" in err and "UTF-8" in err
    assert cli_json(env, "preview")["queued"] == 0
    assert cli_json(env, "anchor")["credentials_anchored"] == 0


def test_bom_semicolons_and_xlsx_give_the_same_credentials(chain: Chain, tmp_path: Path) -> None:
    import openpyxl

    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json", "Digital Marketing")
    rc, plain, _ = issue(env, tpl, write_roster(tmp_path / "a.csv", LEARNERS))
    assert rc == 0 and plain["accepted"] == 5
    digests = [r["digest"] for r in plain["results"]]
    rc, semi, _ = issue(env, tpl, write_roster(tmp_path / "b.csv", LEARNERS, delimiter=";", bom=True))
    assert rc == 0 and semi["duplicate"] == 5 and [r["digest"] for r in semi["results"]] == digests
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "Name", "Email", "Completion Date", "Grade"])
    for r in LEARNERS:
        ws.append([int(r[0]), r[1], r[2], r[3], r[4] or None])
    wb.save(tmp_path / "c.xlsx")
    rc, xl, err = issue(env, tpl, tmp_path / "c.xlsx")
    assert rc == 0, err
    assert xl["duplicate"] == 5 and [r["digest"] for r in xl["results"]] == digests


def test_a_changed_row_is_refused_and_points_to_reissue(chain: Chain, tmp_path: Path) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json")
    issue(env, tpl, write_roster(tmp_path / "a.csv", LEARNERS))
    fixed = [LEARNERS[0][:1] + ("Amara N. Okafor",) + LEARNERS[0][2:], *LEARNERS[1:]]
    rc, rep, _ = issue(env, tpl, write_roster(tmp_path / "b.csv", fixed))
    assert rc == 2
    bad = rep["results"][0]
    assert bad["code"] == "roster_row_changed" and "registry reissue" in bad["message"]
    assert rep["duplicate"] == 4 and rep["accepted"] == 0


def test_preview_warnings_and_html_show_document_text_as_text(chain: Chain, tmp_path: Path) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json", "Renewable Energy Technician")
    rows = [
        ("1", "<script>alert('x')</script>", "a@example.org", "2020-01-01", ""),  # validUntil 2023: ended
        ("2", "Bea <b>bold</b>", "", "2026-01-01", ""),  # no email
        ("3", "Cy", "a@example.org", "2026-01-02", ""),  # same recipient as row 2
    ]
    tpl_doc = json.loads(tpl.read_text())
    tpl_doc["credentialSubject"]["identifier"][0]["identityHash"] = "{{ id | identity_hash(salt) }}"
    tpl.write_text(json.dumps(tpl_doc))
    rc, rep, err = issue(env, tpl, write_roster(tmp_path / "r.csv", rows))
    assert rc == 0, (rep, err)
    out = tmp_path / "preview.html"
    pv = cli_json(env, "preview", "--html", str(out))
    codes = {w["code"]: w for w in pv["warnings"]}
    assert codes["missing_email"]["count"] == 1
    assert (
        codes["duplicate_recipient"]["recipient"] == "a@example.org"
        and codes["duplicate_recipient"]["count"] == 2
    )
    assert codes["validity_ended"]["count"] == 1
    html = out.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html and "Bea &lt;b&gt;bold&lt;/b&gt;" in html
    assert html.count('class="card"') == 3 and "Renewable Energy Technician" in html


def test_discard_drops_queued_never_anchored(chain: Chain, tmp_path: Path) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json")
    _, first, _ = issue(env, tpl, write_roster(tmp_path / "a.csv", LEARNERS[:2]))
    cli_json(env, "anchor")
    anchored = first["results"][0]["digest"]
    _, second, _ = issue(env, tpl, write_roster(tmp_path / "b.csv", LEARNERS))
    queued = [r["digest"] for r in second["results"] if r["status"] == "accepted"]
    assert len(queued) == 3

    refused = run_cli(["discard", anchored, "--json"], env)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["not_discarded"][0]["status"] == "anchored"
    one = cli_json(env, "discard", queued[0])
    assert one["digests"] == [queued[0]]
    run = cli_json(env, "discard", "--roster-run", str(second["run"]))
    assert sorted(run["digests"]) == sorted(queued[1:])
    assert cli_json(env, "preview")["queued"] == 0
    st = cli_json(env, "status")
    assert st["credentials"] == {"anchored": 2}
    assert {r["run"]: r["discarded"] for r in st["roster_runs"]}[second["run"]] == 3
    # a discarded row is issued again by the next run of its roster, as the same credential
    _, third, _ = issue(env, tpl, write_roster(tmp_path / "c.csv", LEARNERS))
    assert third["accepted"] == 3 and sorted(
        r["digest"] for r in third["results"] if r["status"] == "accepted"
    ) == sorted(queued)
    assert cli_json(env, "discard", "--all")["discarded"] == 3
    assert run_cli(["status", anchored, "--json"], env).returncode == 0

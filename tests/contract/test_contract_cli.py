"""The operator CLI (`registry compile|deploy|issuer ...`) run as a real subprocess against anvil."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import DEV_ACCOUNTS, DEV_KEYS, newcomer_env

from registry.chain.anvil import Anvil, free_port
from registry.chain.connection import connect
from registry.chain.contract import RegistryContract
from registry.chain.keys import encrypt_keystore

REGISTRY = str(Path(sys.executable).parent / "registry")
ADMIN_KEY = DEV_KEYS[0]
ISSUER = DEV_ACCOUNTS[1].address


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(args: list[str], env: dict[str, str], cwd: Path, check_ok: bool | None = None) -> Any:
    """Run the `registry` command; ``check_ok`` True/False asserts the exit status.

    In-process through the console-script entry ``registry.cli.main.run`` (the same code path as
    the installed command, without paying the interpreter start-up for every call), with the
    environment replaced by ``env``. ``subprocess_run`` runs the real executable.
    """
    import contextlib
    import io

    from registry.cli import main

    saved = dict(os.environ)
    old_argv, old_cwd = sys.argv, os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["registry", *args]
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main.run()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.argv = old_argv
        os.chdir(old_cwd)
        main.state.debug = False
    res = Result(code, out.getvalue(), err.getvalue())
    _check(res, check_ok)
    return res


def subprocess_run(args: list[str], env: dict[str, str], cwd: Path, check_ok: bool | None = None) -> Any:
    """Run the installed `registry` executable."""
    res = subprocess.run([REGISTRY, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    _check(res, check_ok)
    return res


def _check(res: Any, check_ok: bool | None) -> None:
    if check_ok is True:
        assert res.returncode == 0, res.stderr
    elif check_ok is False:
        assert res.returncode != 0, res.stdout


def one_line_error(res: Any) -> str:
    """The single stderr line of a failed command (no traceback, nothing on stdout)."""
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def env(anvil: Anvil, tmp_path: Path) -> dict[str, str]:
    e = newcomer_env()
    e.update(
        REGISTRY_RPC_URL=anvil.url,
        REGISTRY_PRIVATE_KEY=ADMIN_KEY,
        REGISTRY_DATA_DIR=str(tmp_path / "data"),
        REGISTRY_CONFIG=str(tmp_path / "none.toml"),
    )
    return e


@pytest.fixture
def deployed(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    res = run(["deploy", "--json"], env, tmp_path, check_ok=True)
    data = json.loads(res.stdout)
    env["REGISTRY_CONTRACT"] = data["address"]
    return data


def test_deploy_json(anvil: Anvil, deployed: dict[str, Any]) -> None:
    assert deployed["chainId"] == 31337
    assert deployed["registry"] == f"eip155:31337:{deployed['address']}"
    assert deployed["owner"] == deployed["deployer"] == DEV_ACCOUNTS[0].address
    assert deployed["transactionHash"].startswith("0x") and len(deployed["transactionHash"]) == 66
    reg = RegistryContract(connect(anvil.url), deployed["address"])
    assert reg.owner() == DEV_ACCOUNTS[0].address


def test_deploy_human_output_and_owner(anvil: Anvil, env: dict[str, str], tmp_path: Path) -> None:
    owner = DEV_ACCOUNTS[5].address
    res = run(["deploy", "--owner", owner.lower()], env, tmp_path, check_ok=True)
    assert res.stdout.startswith("registry deployed at 0x")
    address = res.stdout.split()[3]
    assert RegistryContract(connect(anvil.url), address).owner() == owner


def test_issuer_lifecycle_json(
    anvil: Anvil, env: dict[str, str], deployed: dict[str, Any], tmp_path: Path
) -> None:
    res = run(
        ["issuer", "add", ISSUER, "--name", "Open Uni", "--uri", "https://open.example", "--json"],
        env,
        tmp_path,
        True,
    )
    data = json.loads(res.stdout)
    assert data["action"] == "issuer.add" and data["registry"] == deployed["address"]
    assert data["issuer"] == {
        "address": ISSUER,
        "status": "active",
        "registeredAt": data["issuer"]["registeredAt"],
        "keyRevokedSince": 0,
        "name": "Open Uni",
        "uri": "https://open.example",
        "manager": None,
    }
    assert data["issuer"]["registeredAt"] > 0
    assert (
        json.loads(run(["issuer", "suspend", ISSUER, "--json"], env, tmp_path, True).stdout)["issuer"][
            "status"
        ]
        == "suspended"
    )
    assert (
        json.loads(run(["issuer", "reinstate", ISSUER, "--json"], env, tmp_path, True).stdout)["issuer"][
            "status"
        ]
        == "active"
    )
    res = run(
        ["issuer", "revoke-key", ISSUER, "--since", "2030-01-01T00:00:00Z", "--json"], env, tmp_path, True
    )
    assert json.loads(res.stdout)["issuer"]["keyRevokedSince"] == 1893456000
    shown = json.loads(run(["issuer", "show", ISSUER, "--json"], env, tmp_path, True).stdout)
    assert shown["issuer"]["keyRevokedSince"] == 1893456000 and shown["chainId"] == 31337
    reg = RegistryContract(connect(anvil.url), deployed["address"])
    assert reg.issuer(ISSUER).key_revoked_since == 1893456000
    human = run(["issuer", "show", ISSUER], env, tmp_path, True).stdout
    assert "status            active" in human and "Open Uni" in human


def test_managing_a_key_revoked_issuer(
    anvil: Anvil, env: dict[str, str], deployed: dict[str, Any], tmp_path: Path
) -> None:
    """set-manager, then the manager's revoke/suspend/reinstate-credentials and revoke-batch count."""
    from helpers import b32

    from registry.chain.tx import send

    w3 = connect(anvil.url)
    reg = RegistryContract(w3, deployed["address"])
    run(["issuer", "add", ISSUER, "--name", "U"], env, tmp_path, True)
    root = b32(0xCAFE)
    send(w3, DEV_ACCOUNTS[1], reg.functions.anchor(root, 3, "bafkrei-x"))
    # before the cut-off the operator cannot step in
    line = one_line_error(run(["issuer", "set-manager", ISSUER, DEV_ACCOUNTS[5].address], env, tmp_path))
    assert f"IssuerKeyNotRevoked({ISSUER})" in line
    run(["issuer", "revoke-key", ISSUER, "--since", "now"], env, tmp_path, True)
    res = run(["issuer", "set-manager", ISSUER, DEV_ACCOUNTS[5].address, "--json"], env, tmp_path, True)
    data = json.loads(res.stdout)
    assert data["action"] == "issuer.set-manager" and data["manager"] == DEV_ACCOUNTS[5].address
    assert data["issuer"]["manager"] == DEV_ACCOUNTS[5].address
    # a stranger's key is refused with the contract's error
    env_stranger = {**env, "REGISTRY_PRIVATE_KEY": DEV_KEYS[4]}
    d1, d2 = "0x" + "d1" * 32, "0x" + "d2" * 32
    line = one_line_error(run(["issuer", "suspend-credentials", ISSUER, d1], env_stranger, tmp_path))
    assert f"NotIssuerManager({ISSUER}, {DEV_ACCOUNTS[4].address})" in line
    env["REGISTRY_PRIVATE_KEY"] = DEV_KEYS[5]  # the manager from now on
    line = one_line_error(run(["issuer", "revoke-credentials", ISSUER, d1], env, tmp_path))
    assert "--reason is required" in line
    line = one_line_error(
        run(["issuer", "revoke-credentials", ISSUER, "0x12", "--reason", "x"], env, tmp_path)
    )
    assert "digest" in line
    res = run(["issuer", "suspend-credentials", ISSUER, d1, d2, "--json"], env, tmp_path, True)
    data = json.loads(res.stdout)
    assert data["action"] == "issuer.suspend-credentials" and data["digests"] == [d1, d2]
    assert [reg.credential_status(ISSUER, d) for d in (d1, d2)] == [2, 2]
    run(["issuer", "reinstate-credentials", ISSUER, d2, "--json"], env, tmp_path, True)
    res = run(
        ["issuer", "revoke-credentials", ISSUER, d1, "--reason", "stolen key", "--json"], env, tmp_path, True
    )
    assert json.loads(res.stdout)["reason"] == "stolen key"
    assert [reg.credential_status(ISSUER, d) for d in (d1, d2)] == [1, 0]
    res = run(
        ["issuer", "revoke-batch", ISSUER, "0x" + root.hex(), "--reason", "stolen", "--json"],
        env,
        tmp_path,
        True,
    )
    assert json.loads(res.stdout)["root"] == "0x" + root.hex()
    assert reg.batch(ISSUER, root).revoked_at > 0
    human = run(["issuer", "show", ISSUER], env, tmp_path, True).stdout
    assert f"manager           {DEV_ACCOUNTS[5].address}" in human


def test_revert_is_one_line_naming_the_custom_error(
    env: dict[str, str], deployed: dict[str, Any], tmp_path: Path
) -> None:
    run(["issuer", "add", ISSUER, "--name", "U"], env, tmp_path, True)
    line = one_line_error(run(["issuer", "add", ISSUER, "--name", "U", "--json"], env, tmp_path))
    assert line == f"error: contract_revert: reverted with IssuerAlreadyRegistered({ISSUER})"
    line = one_line_error(run(["issuer", "reinstate", ISSUER], env, tmp_path))
    assert "IssuerNotSuspended" in line


def test_non_admin_key_is_refused(env: dict[str, str], deployed: dict[str, Any], tmp_path: Path) -> None:
    env["REGISTRY_PRIVATE_KEY"] = DEV_KEYS[4]
    res = run(["issuer", "add", ISSUER, "--name", "U"], env, tmp_path)
    assert res.returncode == 1
    assert f"OwnableUnauthorizedAccount({DEV_ACCOUNTS[4].address})" in one_line_error(res)


def test_unreachable_chain_exit_3_names_url(env: dict[str, str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env["REGISTRY_RPC_URL"] = url
    res = subprocess_run(["deploy", "--json"], env, tmp_path)
    assert res.returncode == 3
    assert url in one_line_error(res)


def test_missing_contract_and_bad_address(env: dict[str, str], tmp_path: Path) -> None:
    res = run(["issuer", "show", ISSUER], env, tmp_path)
    assert res.returncode == 1 and "REGISTRY_CONTRACT" in one_line_error(res)
    res = run(["issuer", "show", "0x1234", "--contract", ISSUER], env, tmp_path)
    assert res.returncode == 2 and "not an address" in one_line_error(res)
    res = run(["issuer", "show", ISSUER, "--contract", DEV_ACCOUNTS[7].address], env, tmp_path)
    assert "no contract at" in one_line_error(res)  # an address without code


def test_bad_since_is_input_error(env: dict[str, str], deployed: dict[str, Any], tmp_path: Path) -> None:
    res = run(["issuer", "revoke-key", ISSUER, "--since", "yesterday"], env, tmp_path)
    assert res.returncode == 2 and "--since" in one_line_error(res)


def test_private_key_never_in_output(env: dict[str, str], tmp_path: Path) -> None:
    key_hex = ADMIN_KEY[2:].lower()
    outputs = []
    dep = run(["deploy", "--json"], env, tmp_path, True)
    env["REGISTRY_CONTRACT"] = json.loads(dep.stdout)["address"]
    outputs.append(dep)
    outputs.append(run(["issuer", "add", ISSUER, "--name", "U", "--json"], env, tmp_path, True))
    outputs.append(run(["issuer", "add", ISSUER, "--name", "U"], env, tmp_path, False))  # revert
    outputs.append(
        subprocess_run(["--debug", "issuer", "add", ISSUER, "--name", "U"], env, tmp_path, False)
    )  # traceback
    outputs.append(run(["issuer", "show", ISSUER], env, tmp_path, True))
    bad_env = dict(env, REGISTRY_RPC_URL=f"http://127.0.0.1:{free_port()}")
    outputs.append(run(["issuer", "suspend", ISSUER], bad_env, tmp_path, False))
    broken = "0x" + key_hex[:-2] + "zz"  # an invalid key must not be echoed either
    res = run(["deploy"], dict(env, REGISTRY_PRIVATE_KEY=broken), tmp_path, False)
    assert broken[2:30] not in res.stdout + res.stderr
    assert "key_error" in one_line_error(res)
    for r in outputs:
        text = (r.stdout + r.stderr).lower()
        assert key_hex not in text
        assert key_hex[:16] not in text


def test_deploy_with_encrypted_keystore(anvil: Anvil, env: dict[str, str], tmp_path: Path) -> None:
    ks = tmp_path / "admin.json"
    address = encrypt_keystore(DEV_KEYS[6], "s3cret pass", ks, kdf="pbkdf2", iterations=1000)
    pw = tmp_path / "pw"
    pw.write_text("s3cret pass\n")
    del env["REGISTRY_PRIVATE_KEY"]
    env.update(REGISTRY_KEYSTORE=str(ks), REGISTRY_KEYSTORE_PASSWORD_FILE=str(pw))
    data = json.loads(run(["deploy", "--json"], env, tmp_path, True).stdout)
    assert data["deployer"] == data["owner"] == address
    pw.write_text("wrong\n")
    line = one_line_error(run(["deploy"], env, tmp_path))
    assert "key_error" in line and "wrong\n" not in line


def test_compile_check_reproduces_committed_artifact(tmp_path: Path) -> None:
    env = newcomer_env()
    res = subprocess_run(["compile", "--check", "--json"], env, tmp_path, True)
    data = json.loads(res.stdout)
    assert data["identical"] is True and data["written"] is False
    assert data["solcVersion"].startswith("0.8.30+commit.")
    assert data["settings"]["evmVersion"] == "cancun"


def test_parse_since_forms() -> None:
    from registry.cli.admin import parse_since
    from registry.errors import InputError

    assert parse_since("1700000000") == 1700000000
    assert parse_since("2030-01-01T00:00:00Z") == 1893456000
    assert parse_since("2030-01-01T01:00:00+01:00") == 1893456000
    assert parse_since("now", latest_timestamp=1234) == 1234
    for bad in ("0", "2030-01-01T00:00:00", "now-ish", "-5", str(2**64)):
        with pytest.raises(InputError):
            parse_since(bad, latest_timestamp=1)
    with pytest.raises(InputError):
        parse_since("now")


def test_revoke_key_since_now_uses_the_latest_block(
    anvil: Anvil, env: dict[str, str], deployed: dict[str, Any], tmp_path: Path
) -> None:
    run(["issuer", "add", ISSUER, "--name", "U"], env, tmp_path, True)
    w3 = connect(anvil.url)
    before = int(w3.eth.get_block("latest")["timestamp"])
    data = json.loads(
        run(["issuer", "revoke-key", ISSUER, "--since", "now", "--json"], env, tmp_path, True).stdout
    )
    since = data["issuer"]["keyRevokedSince"]
    assert before <= since <= int(w3.eth.get_block("latest")["timestamp"])

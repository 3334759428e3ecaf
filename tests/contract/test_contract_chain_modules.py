"""registry.chain plumbing: connections, revert decoding, keys, the anvil launcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from helpers import ADMIN, DEV_ACCOUNTS, assert_reverts, b32, deploy, register_issuer
from pydantic import SecretStr
from web3 import Web3

from registry.chain.anvil import DEV_KEYS, anvil_binary, free_port, port_free, start_anvil
from registry.chain.connection import connect, safe_url
from registry.chain.contract import RegistryContract, call_chain, decode_revert
from registry.chain.keys import encrypt_keystore, load_account
from registry.chain.tx import send
from registry.errors import ChainError, ContractRevert, InputError, KeyError_
from registry.settings import Settings

KEY = DEV_KEYS[3]
PASSWORD = "correct horse battery staple"


def test_connect_to_nothing_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChainError) as info:
        connect(url, timeout=2)
    assert url in str(info.value)
    assert info.value.code == "chain_unavailable"


def test_connection_errors_hide_url_credentials() -> None:
    url = f"http://user:s3cr3t-token@127.0.0.1:{free_port()}/rpc"
    with pytest.raises(ChainError) as info:
        connect(url, timeout=2)
    assert "s3cr3t-token" not in str(info.value)
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}" in str(info.value)
    assert safe_url(url).startswith("http://127.0.0.1:")


def test_connect_checks_chain_id(anvil) -> None:
    assert connect(anvil.url, chain_id=31337).eth.chain_id == 31337
    with pytest.raises(ChainError) as info:
        connect(anvil.url, chain_id=1)
    assert info.value.code == "wrong_chain"


def test_reads_on_a_dead_node_raise_chain_error() -> None:
    node = start_anvil()
    try:
        w3 = connect(node.url)
        reg = deploy(w3)
        assert reg.owner() == ADMIN.address
    finally:
        node.stop()
    assert not node.running
    for read in (reg.owner, lambda: reg.batch(ADMIN.address, b32(1)), lambda: reg.issuer(ADMIN.address)):
        with pytest.raises(ChainError):
            read()
    with pytest.raises(ChainError):
        send(w3, ADMIN, reg.functions.registerIssuer(ADMIN.address, "x", "y"))


def test_mined_revert_is_decoded(w3) -> None:
    """A transaction sent with a fixed gas limit (no estimate) that reverts names its error."""
    reg = deploy(w3)
    assert_reverts(
        lambda: send(w3, ADMIN, reg.functions.anchor(b32(1), 1, "x"), gas=200_000), "NotActiveIssuer"
    )
    register_issuer(reg, DEV_ACCOUNTS[1])
    assert_reverts(
        lambda: send(w3, DEV_ACCOUNTS[1], reg.functions.anchor(b32(1), 0, "x"), gas=200_000), "EmptyBatch"
    )


def test_view_reverts_are_decoded_too(w3) -> None:
    reg = deploy(w3)
    fn = reg.contract.functions.anchor(b32(1), 1, "x")
    with pytest.raises(ContractRevert) as info:
        call_chain(lambda: fn.call({"from": ADMIN.address}), "anchor")
    assert info.value.details["error"] == "NotActiveIssuer"
    assert info.value.details["args"] == [ADMIN.address]


def test_decode_revert_of_unknown_and_string_errors() -> None:
    class Fake(Exception):
        def __init__(self, data: str) -> None:
            super().__init__(data)
            self.data = data

    unknown = decode_revert(Fake("0xdeadbeef"))
    assert unknown.details["error"] == "unknown" and "0xdeadbeef" in str(unknown)
    from eth_abi import encode

    reason = decode_revert(Fake("0x08c379a0" + encode(["string"], ["boom"]).hex()))
    assert reason.details["error"] == "Error" and reason.details["args"] == ["boom"]
    known = decode_revert(Fake("0xb263ae73"))  # ZeroRoot()
    assert known.details["error"] == "ZeroRoot" and str(known).endswith("ZeroRoot()")


def test_registry_contract_rejects_bad_input(w3) -> None:
    with pytest.raises(InputError):
        RegistryContract(w3, "0x1234")
    reg = deploy(w3)
    with pytest.raises(InputError):
        reg.batch(ADMIN.address, b"short")
    with pytest.raises(InputError):
        reg.verify(ADMIN.address, b32(1), ["0xzz"], b32(2))
    with pytest.raises(InputError):
        reg.lookup("0x1234", b32(1), b32(2))
    with pytest.raises(InputError):
        reg.credential_status("not an address", b32(1))


# ------------------------------------------------------------------------------------- keys


def test_raw_key_from_settings_is_never_shown() -> None:
    s = Settings(private_key=SecretStr(KEY))
    acct = load_account(s)
    assert acct.address == Account.from_key(KEY).address
    for text in (repr(s), str(s), repr(s.private_key), s.model_dump_json()):
        assert KEY[2:] not in text
    assert KEY[2:] not in repr(acct)


def test_invalid_raw_key_error_does_not_echo_it() -> None:
    bad = "0x" + "zz" * 32
    with pytest.raises(KeyError_) as info:
        load_account(Settings(private_key=SecretStr(bad)))
    assert "zz" * 8 not in str(info.value)


def test_no_key_configured() -> None:
    with pytest.raises(KeyError_, match="no signing key"):
        load_account(Settings(private_key=None, keystore=None))


def test_keystore_with_password_env_and_file(tmp_path: Path) -> None:
    ks = tmp_path / "key.json"
    address = encrypt_keystore(KEY, PASSWORD, ks, kdf="pbkdf2", iterations=1000)
    assert KEY[2:] not in ks.read_text()
    assert load_account(Settings(keystore=ks, keystore_password=SecretStr(PASSWORD))).address == address
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    assert load_account(Settings(keystore=ks, keystore_password_file=pw)).address == address
    # the keystore wins over a raw key
    assert (
        load_account(
            Settings(keystore=ks, keystore_password=SecretStr(PASSWORD), private_key=SecretStr(DEV_KEYS[0]))
        ).address
        == address
    )


def test_keystore_errors_name_no_secret(tmp_path: Path) -> None:
    ks = tmp_path / "key.json"
    encrypt_keystore(KEY, PASSWORD, ks, kdf="pbkdf2", iterations=1000)
    cases = [
        Settings(keystore=ks, keystore_password=SecretStr("hunter2-nope")),
        Settings(keystore=ks),
        Settings(keystore=tmp_path / "missing.json", keystore_password=SecretStr(PASSWORD)),
        Settings(keystore=ks, keystore_password_file=tmp_path / "missing-pw"),
    ]
    (tmp_path / "garbage.json").write_text("{not json")
    cases.append(Settings(keystore=tmp_path / "garbage.json", keystore_password=SecretStr(PASSWORD)))
    for s in cases:
        with pytest.raises(KeyError_) as info:
            load_account(s)
        text = str(info.value) + repr(info.value)
        assert KEY[2:] not in text and "hunter2-nope" not in text and PASSWORD not in text
        assert info.value.code == "key_error"


# ------------------------------------------------------------------------------------ anvil


def test_dev_keys_are_anvils_funded_accounts(anvil) -> None:
    accounts = anvil.rpc("eth_accounts")
    assert accounts == [Account.from_key(k).address.lower() for k in DEV_KEYS]


def test_anvil_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    node = start_anvil(state_path=state)
    try:
        w3 = connect(node.url)
        reg = deploy(w3)
        register_issuer(reg, DEV_ACCOUNTS[1], name="Persistent U")
    finally:
        node.stop()
    assert state.is_file() and json.loads(state.read_text())
    node2 = start_anvil(state_path=state)
    try:
        reg2 = RegistryContract(connect(node2.url), reg.address)
        assert reg2.issuer(DEV_ACCOUNTS[1].address).name == "Persistent U"
    finally:
        node2.stop()


def test_anvil_kill_and_busy_port() -> None:
    node = start_anvil()
    try:
        with pytest.raises(ChainError, match="anvil did not start"):
            start_anvil(port=node.port, timeout=5)
    finally:
        node.kill()
    assert not node.running
    # nothing is left behind listening on the port (no orphaned child of a wrapper)
    assert port_free(node.port)
    with pytest.raises(ChainError):
        connect(node.url, timeout=2)


def test_anvil_runs_the_native_binary() -> None:
    binary = anvil_binary()
    assert binary.name == "anvil" and "@foundry-rs/anvil-" in str(binary)


def test_status_changes_get_gas_for_the_checkpoints_they_may_open(anvil_w3: Web3) -> None:
    """An estimate made in the second of a digest's last change sees the cheap checkpoint update;
    the margin covers opening a new checkpoint per digest (the flaky revert this fixes)."""
    from registry.chain.contract import RegistryContract
    from registry.chain.tx import CHECKPOINT_GAS, checkpoint_margin

    reg = RegistryContract(anvil_w3, "0x" + "11" * 20)
    digests = [bytes([i]) * 32 for i in range(1, 4)]
    assert checkpoint_margin(reg.functions.reinstateCredentials(digests)) == 3 * CHECKPOINT_GAS
    assert checkpoint_margin(reg.functions.revokeCredentials(digests, "r")) == 3 * CHECKPOINT_GAS
    assert checkpoint_margin(reg.functions.anchor(b"\x01" * 32, 1, "cid")) == 0

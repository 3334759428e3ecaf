"""Signing keys: an encrypted keystore (password from env or file) or a raw development key.

The key material never reaches a log, an error message or a repr: errors name only the source
(variable or file) and the failure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.errors import KeyError_
from registry.settings import Settings


def _password(settings: Settings) -> str:
    if settings.keystore_password is not None:
        return settings.keystore_password.get_secret_value()
    if settings.keystore_password_file is not None:
        try:
            return Path(settings.keystore_password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise KeyError_(
                f"cannot read keystore password file {settings.keystore_password_file}: {exc.strerror}"
            ) from None
    raise KeyError_(
        "keystore needs a password: set REGISTRY_KEYSTORE_PASSWORD or REGISTRY_KEYSTORE_PASSWORD_FILE"
    )


def load_account(settings: Settings) -> LocalAccount:
    """The signing account from the settings: keystore + password, else ``REGISTRY_PRIVATE_KEY``."""
    if settings.keystore is not None:
        path = Path(settings.keystore)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise KeyError_(f"cannot read keystore {path}: {exc.strerror}") from None
        except ValueError:
            raise KeyError_(f"keystore {path} is not valid JSON") from None
        try:
            key = Account.decrypt(data, _password(settings))
        except KeyError_:
            raise
        except Exception:
            raise KeyError_(f"cannot decrypt keystore {path}: wrong password or corrupt file") from None
        return Account.from_key(key)
    if settings.private_key is not None:
        try:
            return Account.from_key(settings.private_key.get_secret_value().strip())
        except Exception:
            raise KeyError_(
                "REGISTRY_PRIVATE_KEY is not a valid private key (expected 32 bytes hex)"
            ) from None
    raise KeyError_("no signing key configured: set REGISTRY_KEYSTORE (+ password) or REGISTRY_PRIVATE_KEY")


def encrypt_keystore(
    private_key: str | bytes,
    password: str,
    path: Path,
    *,
    kdf: Literal["scrypt", "pbkdf2"] = "scrypt",
    iterations: int | None = None,
) -> str:
    """Write an encrypted keystore for ``private_key`` to ``path``; return the account address.

    ``kdf``/``iterations`` as in eth-account (a cheap pbkdf2 keeps tests fast).
    """
    acct = Account.from_key(private_key)
    data = Account.encrypt(acct.key, password, kdf=kdf, iterations=iterations)
    path.write_text(json.dumps(data), encoding="utf-8")
    path.chmod(0o600)
    return str(acct.address)

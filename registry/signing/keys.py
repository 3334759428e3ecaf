"""The issuer's Ed25519 signing key: an encrypted keystore file or the environment, never printed.

A keystore is the Ethereum v3 keystore format (``eth_keyfile``: scrypt + AES-128-CTR + MAC) holding
the 32-byte Ed25519 seed, with ``"keyType": "Ed25519"`` beside ``crypto`` and no ``address`` (an
Ethereum address of an Ed25519 seed would mean nothing). Its password comes from
``REGISTRY_SIGNING_KEYSTORE_PASSWORD`` or ``REGISTRY_SIGNING_KEYSTORE_PASSWORD_FILE``.
``REGISTRY_SIGNING_KEY`` holds a Multikey secret key (``z3u2…``) or 64 hex digits (development).

The seed never reaches a log, an error message or a repr: errors name only the source (variable
or file) and the failure; :class:`SigningKey` shows its DID, never its seed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.core.dataintegrity.didkey import decode_private_key, did_key, encode_public_key
from registry.errors import ConfigError, KeyError_

KEY_TYPE = "Ed25519"
DEFAULT_FRAGMENT = "key-1"
_HEX_SEED = re.compile(r"(0x)?[0-9a-fA-F]{64}")


def public_key_of(seed: bytes) -> bytes:
    """The raw 32-byte Ed25519 public key of a 32-byte seed."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class SigningKey:
    """An issuer's Ed25519 key and the DID verification method its signatures name.

    Picklable (intake hands it to its worker processes in their arguments); ``seed`` is kept out
    of the repr and of every message.
    """

    seed: bytes = field(repr=False)
    did: str
    verification_method: str
    public_multikey: str

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise KeyError_("an Ed25519 signing key has a 32-byte seed")

    def __repr__(self) -> str:
        return f"SigningKey(did={self.did!r}, verification_method={self.verification_method!r})"

    __str__ = __repr__

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return public_key_of(self.seed)


def signing_key(seed: bytes, did: str | None = None, fragment: str | None = None) -> SigningKey:
    """A :class:`SigningKey` for ``seed``: ``did:key`` unless ``did`` (e.g. ``did:web:…``) is given.

    The verification method is ``did:key:<mb>#<mb>`` for a did:key, else ``<did>#<fragment>``
    (default ``key-1``).
    """
    if len(seed) != 32:
        raise KeyError_("an Ed25519 signing key has a 32-byte seed")
    pub = public_key_of(seed)
    mb = encode_public_key(pub)
    own = did_key(pub)
    if did is None or did == own:
        return SigningKey(seed, own, f"{own}#{mb}", mb)
    if did.startswith("did:key:"):
        raise ConfigError(f"REGISTRY_ISSUER_DID is {did[:120]!r}, but the signing key's did:key is {own}")
    if not re.fullmatch(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]+", did):
        raise ConfigError(f"REGISTRY_ISSUER_DID is not a DID: {did[:120]!r}")
    frag = (fragment or DEFAULT_FRAGMENT).lstrip("#")
    return SigningKey(seed, did, f"{did}#{frag}", mb)


def new_seed() -> bytes:
    """A fresh random 32-byte Ed25519 seed."""
    return os.urandom(32)


def parse_seed(text: str, *, source: str) -> bytes:
    """The seed in ``text`` (Multikey ``z3u2…`` or 64 hex digits); errors name ``source`` only."""
    value = text.strip()
    if value.startswith("z"):
        try:
            return decode_private_key(value)
        except Exception:
            raise KeyError_(f"{source} is not an Ed25519 Multikey secret key (z3u2…)") from None
    if _HEX_SEED.fullmatch(value):
        return bytes.fromhex(value.removeprefix("0x"))
    raise KeyError_(
        f"{source} is not an Ed25519 key: expected a Multikey secret key (z3u2…) or 64 hex digits"
    )


def encrypt_signing_keystore(
    seed: bytes, password: str, path: Path, *, kdf: str = "scrypt", iterations: int | None = None
) -> dict[str, Any]:
    """Write ``seed`` encrypted with ``password`` to ``path`` (mode 0600); return the keystore JSON.

    ``kdf``/``iterations`` as in eth-keyfile (a cheap pbkdf2 keeps tests fast).
    """
    from eth_keyfile import create_keyfile_json

    data = create_keyfile_json(seed, password.encode("utf-8"), kdf=kdf, iterations=iterations)  # type: ignore[arg-type]
    data.pop("address", None)
    data["keyType"] = KEY_TYPE
    data["publicKeyMultibase"] = encode_public_key(public_key_of(seed))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    return data


def decrypt_signing_keystore(path: Path, password: str) -> bytes:
    """The seed in the keystore at ``path``; ``key_error`` naming the file (never the key) else."""
    from eth_keyfile import decode_keyfile_json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyError_(f"cannot read signing keystore {path}: {exc.strerror}") from None
    except ValueError:
        raise KeyError_(f"signing keystore {path} is not valid JSON") from None
    if not isinstance(data, dict) or data.get("keyType") != KEY_TYPE:
        raise KeyError_(f'{path} is not an Ed25519 signing keystore (no "keyType": "{KEY_TYPE}")')
    try:
        seed = bytes(decode_keyfile_json(data, password.encode("utf-8")))
    except Exception:
        raise KeyError_(f"cannot decrypt signing keystore {path}: wrong password or corrupt file") from None
    if len(seed) != 32:
        raise KeyError_(f"signing keystore {path} does not hold a 32-byte Ed25519 seed")
    return seed


def _password(settings: Any) -> str:
    if settings.signing_keystore_password is not None:
        return str(settings.signing_keystore_password.get_secret_value())
    if settings.signing_keystore_password_file is not None:
        path = Path(settings.signing_keystore_password_file)
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise KeyError_(f"cannot read signing keystore password file {path}: {exc.strerror}") from None
    raise KeyError_(
        "the signing keystore needs a password: set REGISTRY_SIGNING_KEYSTORE_PASSWORD or "
        "REGISTRY_SIGNING_KEYSTORE_PASSWORD_FILE"
    )


def load_signing_key(settings: Any) -> SigningKey | None:
    """The issuer's signing key from the settings (keystore first, then ``REGISTRY_SIGNING_KEY``);
    None when neither is configured."""
    if settings.signing_keystore is not None:
        seed = decrypt_signing_keystore(Path(settings.signing_keystore), _password(settings))
    elif settings.signing_key is not None:
        seed = parse_seed(settings.signing_key.get_secret_value(), source="REGISTRY_SIGNING_KEY")
    else:
        return None
    return signing_key(seed, settings.issuer_did, settings.signing_key_fragment)

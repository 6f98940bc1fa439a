"""The cluster's master keys for encryption at rest: the keyring file every node reads, and the
wrapping of tenant data keys under them.

A keyring file (`noded --master-key-file`, `nodectl admin master-key add FILE`) is text, private to
its owner (0600), the same on every node:

    ringstore master keys v1
    key mk-3f0c9a1b2d4e5f60 BASE64-OF-32-RANDOM-BYTES
    key mk-77a1...           ...

The last key is the primary: it wraps data keys made from now on, and `nodectl admin rewrap-keys`
moves every data key under it. The others stay only to unwrap data keys not yet re-wrapped. A key's
id is 16 hex digits of an HMAC under the key itself: it names the key in records and logs and
reveals nothing of it.

Wrapped form (a data key sealed under a master key): WRAP_VERSION (1 byte) + a random 12-byte nonce
+ AES-256-GCM of the data key with its tag, the data key's id as associated data, so a wrapped key
moved into another record fails to open. The master key is never used directly: HKDF-SHA256 derives
its wrapping subkey, as ringstore.auth.keys derives the cluster key's. Random nonces are safe far
beyond the number of data keys a cluster wraps (one per tenant, and once per rotation).

`cryptography` is imported on first use (clients import this module to write keyring files).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import os
import secrets

from ringstore.auth.credentials import replace_file

HEADER = "ringstore master keys v1"
KEY_BYTES = 32
ID_PREFIX = "mk-"
FILE_MODE = 0o600
WRAP_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
KEYS_MAX = 64  # a keyring holds the primary and the few being retired, not a history
_ID_CONTEXT = b"ringstore master key id v1"
_WRAP_SALT = b"ringstore master key v1"
_WRAP_INFO = b"ringstore data key wrapping v1"


class KeyringError(ValueError):
    """A keyring file or a wrapped key is not usable; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class MasterKey:
    secret: bytes = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise KeyringError(f"a master key is {KEY_BYTES} bytes, not {len(self.secret)}")

    @property
    def key_id(self) -> str:
        return ID_PREFIX + hmac.new(self.secret, _ID_CONTEXT, hashlib.sha256).hexdigest()[:16]

    def _aead(self):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return AESGCM(HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_WRAP_SALT,
                           info=_WRAP_INFO).derive(self.secret))

    def wrap(self, data_key: bytes, data_key_id: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return bytes([WRAP_VERSION]) + nonce + self._aead().encrypt(nonce, data_key, data_key_id.encode("utf-8"))

    def unwrap(self, wrapped: bytes, data_key_id: str) -> bytes:
        from cryptography.exceptions import InvalidTag

        if len(wrapped) < 1 + NONCE_BYTES + TAG_BYTES or wrapped[0] != WRAP_VERSION:
            raise KeyringError(f"the wrapped data key {data_key_id} is damaged or of a format this node does not read")
        try:
            return self._aead().decrypt(wrapped[1:1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES:],
                                        data_key_id.encode("utf-8"))
        except InvalidTag:
            raise KeyringError(f"the data key {data_key_id} does not open under master key {self.key_id}: its "
                               "record is damaged, or another key has that id") from None


@dataclasses.dataclass(frozen=True)
class Keyring:
    """Master keys, the primary last."""

    keys: tuple[MasterKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("a keyring holds at least one master key")

    @property
    def primary(self) -> MasterKey:
        return self.keys[-1]

    @property
    def ids(self) -> list[str]:
        return [key.key_id for key in self.keys]

    def get(self, key_id: str) -> MasterKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)

    def to_text(self) -> str:
        return HEADER + "\n" + "".join(f"key {k.key_id} {base64.b64encode(k.secret).decode()}\n" for k in self.keys)

    @classmethod
    def from_text(cls, text: str, path: str) -> Keyring:
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if not lines or lines[0] != HEADER:
            raise KeyringError(f"{path} is not a master keyring (its first line is not {HEADER!r}); make one with "
                               "`nodectl admin master-key add FILE`")
        keys: list[MasterKey] = []
        for number, line in enumerate(lines[1:], start=2):
            parts = line.split()
            try:
                if len(parts) != 3 or parts[0] != "key":
                    raise ValueError
                key = MasterKey(base64.b64decode(parts[2], validate=True))
            except (ValueError, binascii.Error, KeyringError):
                raise KeyringError(f"{path}: line {number} is not `key ID BASE64` of a {KEY_BYTES}-byte key") from None
            if key.key_id != parts[1]:
                raise KeyringError(f"{path}: line {number} names {parts[1]} but its key is {key.key_id}: the file is "
                                   "damaged")
            if key.key_id in {k.key_id for k in keys}:
                raise KeyringError(f"{path}: {key.key_id} appears twice")
            keys.append(key)
        if not keys:
            raise KeyringError(f"{path} holds no key; add one with `nodectl admin master-key add {path}`")
        if len(keys) > KEYS_MAX:
            raise KeyringError(f"{path} holds {len(keys)} keys, more than {KEYS_MAX}: remove the ones no data key "
                               "is wrapped under any more (after `nodectl admin rewrap-keys`)")
        return cls(tuple(keys))


def load(path: str) -> Keyring:
    """The keyring in `path`: KeyringError, one line, when it cannot be read, is readable by group
    or others, or is not a keyring."""
    from ringstore.tls import private_file_problem

    try:
        problem = private_file_problem(path)
    except OSError as err:
        raise KeyringError(f"cannot read the master key file {path}: {err.strerror}; make one with "
                           f"`nodectl admin master-key add {path}`") from None
    if problem:
        raise KeyringError(f"master key file {problem}")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise KeyringError(f"cannot read the master key file {path}: {err}") from None
    return Keyring.from_text(text, path)


def save(path: str, keyring: Keyring) -> None:
    """Write `keyring` to `path` atomically (a private temporary file renamed over it), fsynced."""
    replace_file(os.path.abspath(path), keyring.to_text().encode("utf-8"), FILE_MODE)


def add_new(path: str) -> MasterKey:
    """A new random master key, appended to the keyring in `path` as its primary (the file is made
    when it does not exist)."""
    key = MasterKey(secrets.token_bytes(KEY_BYTES))
    keys: tuple[MasterKey, ...] = ()
    if os.path.exists(path):
        keys = load(path).keys
    save(path, Keyring(keys + (key,)))
    return key


def remove(path: str, key_id: str) -> Keyring:
    """The keyring in `path` without `key_id`, written back. Refuses the primary (add a new one
    first) and an id the file does not hold."""
    keyring = load(path)
    if keyring.get(key_id) is None:
        raise KeyringError(f"{path} holds no key {key_id}; it holds {', '.join(keyring.ids)}")
    if keyring.primary.key_id == key_id:
        raise KeyringError(f"{key_id} is the primary key of {path}: add a new key first (`nodectl admin master-key "
                           f"add {path}`), give it to every node, run `nodectl admin rewrap-keys`, then remove this one")
    left = Keyring(tuple(key for key in keyring.keys if key.key_id != key_id))
    save(path, left)
    return left

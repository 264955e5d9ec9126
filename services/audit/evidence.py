"""Signed checkpoints: what makes the trail evidence against someone with database rights.

The hash chain alone shows an edit only to whoever did not recompute it: an attacker who rewrites
a record, every hash after it and the head leaves a chain that verifies. So every
AUDIT_CHECKPOINT_SECONDS (and at start) the audit service signs, with an Ed25519 key the database
never holds (AUDIT_CHECKPOINT_KEY[_FILE], from the Secret hall-audit-checkpoint-key), a checkpoint:
its number, the head (count and hash), the signature of the checkpoint before, and the chain hash
after each record since then. Verification recomputes the chain from the rows and compares it,
record by record, with what the checkpoints signed, so it names the first record altered, removed
or inserted, however the rows and the head were rewritten after it. Checkpoints are written even
when nothing was appended (a heartbeat): removing the newest ones shows as a stale anchor.

AUDIT_CHECKPOINT_PUBLIC_KEYS[_FILE] adds public keys that verify older checkpoints after a
rotation (the signing key's own public key always verifies). Without a key, a development key
from a fixed seed signs, and the process says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.runtime.config import ConfigError, env_secret

SCHEMA = "hall.audit.checkpoint.v1"
HASH_CHARS = 64  # per record in a checkpoint: its whole chain hash (a removal is told by chaining from it)
_DEV_SEED = hashlib.sha256(b"hall development audit checkpoint key: proves nothing").digest()


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class CheckpointSigner:
    def __init__(self, pem: str | None = None, extra_public: str | None = None) -> None:
        pem = env_secret("AUDIT_CHECKPOINT_KEY") if pem is None else pem
        self.development = not pem
        if pem:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ConfigError("AUDIT_CHECKPOINT_KEY is not an Ed25519 private key")
            self._key = key
        else:
            self._key = Ed25519PrivateKey.from_private_bytes(_DEV_SEED)
        self.key_id = _key_id(self._key.public_key())
        self._public = {self.key_id: self._key.public_key()}
        extra = env_secret("AUDIT_CHECKPOINT_PUBLIC_KEYS") if extra_public is None else extra_public
        for block in re.findall(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", extra, re.S):
            public = serialization.load_pem_public_key(block.encode())
            if not isinstance(public, Ed25519PublicKey):
                raise ConfigError("AUDIT_CHECKPOINT_PUBLIC_KEYS holds a key that is not Ed25519")
            self._public[_key_id(public)] = public

    def sign(self, content: str) -> str:
        return base64.b64encode(self._key.sign(content.encode())).decode()

    def verifies(self, key_id: str, content: str, signature: str) -> bool:
        key = self._public.get(key_id)
        if key is None:
            return False
        try:
            key.verify(base64.b64decode(signature), content.encode())
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signed:
    """A checkpoint as the signature vouches for it (read from its signed content, never from
    the row's other columns, which an attacker could change)."""

    number: int
    count: int
    hash: str
    from_count: int
    hashes: list[str]
    prev_signature_digest: str
    signed_at: datetime


def content_of(*, number: int, count: int, head_hash: str, from_count: int, hashes: str, prev_signature: str,
               signed_at: datetime) -> str:
    return canonical({"schema": SCHEMA, "number": number, "count": count, "hash": head_hash,
                      "from": from_count, "hashes": digest(hashes), "prev": digest(prev_signature),
                      "signed_at": signed_at.isoformat()})


def read_signed(content: str, hashes: str) -> Signed | None:
    """The checkpoint the signed `content` describes, if `hashes` (its row's column) is the
    one signed; None if they differ or the content is not a checkpoint."""
    try:
        data = json.loads(content)
        if data.get("schema") != SCHEMA or data["hashes"] != digest(hashes):
            return None
        listed = [hashes[i:i + HASH_CHARS] for i in range(0, len(hashes), HASH_CHARS)]
        if len(listed) != int(data["count"]) - int(data["from"]):
            return None
        return Signed(number=int(data["number"]), count=int(data["count"]), hash=str(data["hash"]),
                      from_count=int(data["from"]), hashes=listed, prev_signature_digest=str(data["prev"]),
                      signed_at=datetime.fromisoformat(str(data["signed_at"])))
    except (ValueError, KeyError, TypeError):
        return None

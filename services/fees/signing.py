"""The hall's receipt signature: Ed25519 (cryptography) over the receipt's canonical JSON.

The private key comes from FEES_SIGNING_KEY (a PEM, from a Secret); without it, a development key
derived from a fixed seed signs (and the process says so): receipts signed with it prove nothing.
Anyone verifies a receipt with the public key alone: `verify(receipt, public_pem)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hall.v1 import fees_pb2

_DEV_SEED = hashlib.sha256(b"hall development receipt key: proves nothing").digest()


def canonical(content: dict[str, Any]) -> str:
    """The exact text signed: sorted keys, no spaces, UTF-8 as it is."""
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def check_code(signature: bytes) -> str:
    """16 characters printed on the receipt, from its signature (base32, no padding)."""
    return base64.b32encode(hashlib.sha256(signature).digest()[:10]).decode()


class Signer:
    def __init__(self, pem: str | None) -> None:
        if pem:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("FEES_SIGNING_KEY is not an Ed25519 private key")
            self._key = key
        else:
            self._key = Ed25519PrivateKey.from_private_bytes(_DEV_SEED)
        self.development = not pem
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]
        self.public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, receipt: fees_pb2.Receipt, content: dict[str, Any]) -> None:
        """Put the signed content, the signature, its check code and the key id on `receipt`."""
        receipt.signed_content = canonical(content)
        signature = self._key.sign(receipt.signed_content.encode())
        receipt.signature = base64.b64encode(signature).decode()
        receipt.check_code = check_code(signature)
        receipt.key_id = self.key_id


def verify(receipt: fees_pb2.Receipt, public_pem: str) -> str:
    """"" when `receipt` is signed by the key of `public_pem` and its printed values are the
    signed ones; else what is wrong (in Chinese)."""
    key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return "验证公钥不是 Ed25519 公钥"
    try:
        signature = base64.b64decode(receipt.signature, validate=True)
        key.verify(signature, receipt.signed_content.encode())
    except (InvalidSignature, ValueError):
        return "签名与票据内容不符：票据被改动，或不是本中心开具"
    if check_code(signature) != receipt.check_code:
        return "校验码与签名不符"
    signed = json.loads(receipt.signed_content)
    shown = {"receipt_number": receipt.receipt_number, "total_fen": receipt.total.fen,
             "payer_name": receipt.payer_name, "application_id": receipt.application_id}
    for key_name, value in shown.items():
        if signed.get(key_name) != value:
            return f"票面 {key_name} 与签名内容不符"
    if [(x["department"], x["item_code"], x["amount_fen"]) for x in signed.get("lines", [])] != \
            [(line.department, line.item_code, line.amount.fen) for line in receipt.lines]:
        return "票面明细与签名内容不符"
    return ""

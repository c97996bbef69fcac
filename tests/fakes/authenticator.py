"""A software WebAuthn authenticator (and the browser's part of the ceremony) for tests.

It does what a platform authenticator and ``navigator.credentials`` do together, with
real cryptography: ``create`` makes an EC P-256 key pair and answers registration
options with a "none" attestation (CBOR, via ``cbor2``); ``get`` signs the
authenticator data and the client data hash of an assertion, its signature counter
going up by one each time. The origin the "browser" reports is a parameter, so a test
can play a page on another site. Its answers are ``PublicKeyCredential.toJSON()``
shapes, what the gateway's passkey routes take.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["SoftAuthenticator", "SoftCredential", "b64url"]

_UP, _UV, _AT = 0x01, 0x04, 0x40  # user present, user verified, attested data included


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftCredential:
    """One key pair the authenticator holds for a site and a user."""

    rp_id: str
    user_handle: bytes
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    sign_count: int = 0

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


class SoftAuthenticator:
    """Holds credentials by id; ``origin`` is what the browser would report."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.credentials: dict[str, SoftCredential] = {}

    def create(self, options: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        """Answer ``navigator.credentials.create(options)``: a new credential."""
        rp_id = options["rp"]["id"]
        credential = SoftCredential(rp_id, _unb64url(options["user"]["id"]))
        self.credentials[b64url(credential.credential_id)] = credential
        attested = (
            bytes(16)  # AAGUID: none
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_key()
        )
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([_UP | _UV | _AT])
            + struct.pack(">I", credential.sign_count)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", options["challenge"], origin or self.origin)
        identifier = b64url(credential.credential_id)
        return {
            "id": identifier,
            "rawId": identifier,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self,
        options: dict[str, Any],
        credential_id: str | None = None,
        origin: str | None = None,
        signer: SoftCredential | None = None,
    ) -> dict[str, Any]:
        """Answer ``navigator.credentials.get(options)`` with ``credential_id`` (default:
        the only one held). ``signer`` signs instead of that credential's own key (a
        forged assertion: another key claiming the credential's id)."""
        identifier = credential_id or next(iter(self.credentials))
        credential = self.credentials[identifier]
        credential.sign_count += 1
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([_UP | _UV])
            + struct.pack(">I", credential.sign_count)
        )
        client_data = _client_data("webauthn.get", options["challenge"], origin or self.origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        key = (signer or credential).key
        signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": identifier,
            "rawId": identifier,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

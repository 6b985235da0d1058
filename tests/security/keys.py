"""Fresh signing keys and JWT minting for the security tests.

Every key is generated when the tests run; nothing here is a fixture file.
Every token minted is remembered (``tests.leaks``) so that the log check at the
end of the run can look for it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.leaks import remember


@dataclass
class SigningKey:
    """A private key with its kid and algorithm, and its public JWK."""

    kid: str
    alg: str
    private: Any
    extra_jwk: dict[str, Any] = field(default_factory=dict)

    @property
    def public_jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if self.alg.startswith("ES"):
            jwk = json.loads(ECAlgorithm.to_jwk(public))
        else:
            jwk = json.loads(RSAAlgorithm.to_jwk(public))
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"}, **self.extra_jwk)
        return jwk

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)


_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
_RSA_CACHE: dict[int, Any] = {}


def new_key(alg: str, kid: str | None = None) -> SigningKey:
    """A freshly generated key for ``alg`` (RSA keys are 2048 bits)."""
    kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
    if alg.startswith("ES"):
        private = ec.generate_private_key(_CURVES[alg]())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid, alg, private)


def jwks(*keys: SigningKey) -> dict[str, Any]:
    """A JWK Set of the keys' public parts."""
    return {"keys": [k.public_jwk for k in keys]}


def claims(iss: str, aud: str | list[str], *, lifetime: int = 300, **extra: Any) -> dict[str, Any]:
    """CDS Hooks JWT claims: iss, aud, exp, iat and a fresh jti, plus ``extra``."""
    now = int(time.time())
    body = {"iss": iss, "aud": aud, "exp": now + lifetime, "iat": now, "jti": uuid.uuid4().hex}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def mint(key: SigningKey, payload: dict[str, Any], *, headers: dict[str, Any] | None = None,
         alg: str | None = None) -> str:
    """A signed JWT with header typ JWT and the key's kid (override or drop with ``headers``)."""
    header = {"typ": "JWT", "kid": key.kid}
    header.update(headers or {})
    # PyJWT adds typ JWT by default and leaves it out only when given an empty typ.
    header = {k: ("" if v is None else v) for k, v in header.items() if v is not None or k == "typ"}
    token = jwt.encode(payload, key.private, algorithm=alg or key.alg, headers=header)
    return remember(token)

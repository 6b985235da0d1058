"""The JWT matrix: tokens minted here with fresh keys, against every CDS endpoint.

Valid ES384 and RS384 tokens (inline JWKS, a jwks_file, an allowlisted jku,
Epic-style with ``sub`` and ``nbf``) are accepted; every broken one is a bare
401 whose reason is logged without the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest

from tests.leaks import remember
from tests.service.data import full_prefetch, request

from .conftest import EHR, EPIC, JKU_CLIENT, TENANT_CLIENT, aud
from .jwks_server import JwksServer
from .keys import claims, jwks, mint, new_key

SERVICE = "/cds-services/test-patient-view"
FEEDBACK = "/cds-services/test-patient-view/feedback"
DISCOVERY = "/cds-services"
ENDPOINTS = [DISCOVERY, SERVICE, FEEDBACK]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, payload: dict, signature: bytes = b"") -> str:
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    return remember(signing_input + "." + b64(signature))


def hmac_token(secret: bytes, header: dict, payload: dict) -> str:
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return remember(signing_input + "." + b64(signature))


def call(client, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if path == DISCOVERY:
        return client.get(path, headers=headers)
    if path == FEEDBACK:
        body = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-01T10:00:00Z"}]}
    else:
        body = request("patient-view", prefetch=full_prefetch())
    return client.post(path, data=json.dumps(body), headers=headers)


# --------------------------------------------------------------------------- accepted


def _es384(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience))


def _rs384(k, audience, _jku):
    return mint(k.rs384, claims(EHR, audience))


def _epic_style(k, audience, _jku):
    # Epic adds sub and nbf, and its keys come from a JWK Set file here.
    now = int(time.time())
    return mint(k.epic, claims(EPIC, audience, sub="epic-client-id", nbf=now))


def _jku_header(k, audience, jku):
    return mint(k.jku, claims(JKU_CLIENT, audience), headers={"jku": jku.url})


def _jku_configured(k, audience, _jku):
    return mint(k.jku, claims(JKU_CLIENT, audience))


def _aud_list(k, audience, _jku):
    return mint(k.es384, claims(EHR, ["https://other.example.org/cds-services", audience]))


def _tenant(k, audience, _jku):
    return mint(k.tenant, claims(TENANT_CLIENT, audience, tenant="org-2"))


def _short_skewed(k, audience, _jku):
    # Expired 30 s ago: within the clock skew.
    now = int(time.time())
    return mint(k.es384, claims(EHR, audience, exp=now - 30, iat=now - 300))


ACCEPTED = {
    "ES384": _es384, "RS384": _rs384, "epic-style sub and nbf": _epic_style, "jku in header": _jku_header,
    "jku configured only": _jku_configured, "aud list": _aud_list, "tenant listed": _tenant,
    "expiry within skew": _short_skewed,
}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("case", list(ACCEPTED))
def test_valid_tokens_are_accepted(client, keys, jku_server, case, path):
    token = ACCEPTED[case](keys, aud(path), jku_server)
    response = call(client, path, token)
    assert response.status_code == 200, response.get_data(as_text=True)


# --------------------------------------------------------------------------- refused


def _none(k, audience, _jku):
    return unsigned({"alg": "none", "typ": "JWT", "kid": k.es384.kid}, claims(EHR, audience))


def _none_with_signature(k, audience, _jku):
    return unsigned({"alg": "none", "typ": "JWT", "kid": k.es384.kid}, claims(EHR, audience), b"x" * 32)


def _hs256_public_pem(k, audience, _jku):
    # The classic key-confusion attack: HMAC keyed with the public key the service holds.
    return hmac_token(k.rs384.public_pem, {"alg": "HS256", "typ": "JWT", "kid": k.rs384.kid},
                      claims(EHR, audience))


def _hs256_public_jwk(k, audience, _jku):
    secret = json.dumps(k.es384.public_jwk).encode()
    return hmac_token(secret, {"alg": "HS256", "typ": "JWT", "kid": k.es384.kid}, claims(EHR, audience))


def _expired(k, audience, _jku):
    now = int(time.time())
    return mint(k.es384, claims(EHR, audience, exp=now - 600, iat=now - 900))


def _future(k, audience, _jku):
    now = int(time.time())
    return mint(k.es384, claims(EHR, audience, iat=now + 600, exp=now + 900))


def _nbf_future(k, audience, _jku):
    now = int(time.time())
    return mint(k.es384, claims(EHR, audience, nbf=now + 600))


def _too_long_lived(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience, lifetime=48 * 3600))


def _wrong_aud(k, audience, _jku):
    return mint(k.es384, claims(EHR, "https://cds.example.org/base/cds-services/another-service"))


def _wrong_aud_list(k, audience, _jku):
    return mint(k.es384, claims(EHR, ["https://evil.example.org/cds-services", "https://cds.example.org"]))


def _aud_from_host_header(k, audience, _jku):
    # What request.url is behind the test client: the service must not trust it.
    return mint(k.es384, claims(EHR, audience.replace("https://cds.example.org/base", "http://localhost")))


def _no_aud(k, audience, _jku):
    return mint(k.es384, claims(EHR, None))


def _untrusted_iss(k, audience, _jku):
    return mint(k.stranger, claims("https://evil.example.org", audience))


def _trusted_iss_foreign_key(k, audience, _jku):
    # A stranger's key wearing a trusted kid.
    forged = new_key("ES384", kid=k.es384.kid)
    return mint(forged, claims(EHR, audience))


def _unknown_kid(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience), headers={"kid": "no-such-kid"})


def _missing_kid(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience), headers={"kid": None})


def _missing_typ(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience), headers={"typ": None})


def _wrong_typ(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience), headers={"typ": "at+jwt"})


def _jku_not_allowlisted(k, audience, jku):
    return mint(k.jku, claims(JKU_CLIENT, audience), headers={"jku": jku.base + "/other-jwks.json"})


def _jku_for_client_without_jku(k, audience, jku):
    return mint(k.es384, claims(EHR, audience), headers={"jku": jku.url})


def _missing_jti(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience, jti=None))


def _missing_exp(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience, exp=None))


def _missing_iat(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience, iat=None))


def _string_exp(k, audience, _jku):
    return mint(k.es384, claims(EHR, audience, exp=str(int(time.time()) + 300)))


def _tampered_payload(k, audience, _jku):
    token = mint(k.es384, claims(EHR, audience))
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["sub"] = "someone-else"
    return remember(".".join([header, b64(json.dumps(body).encode()), signature]))


def _tampered_signature(k, audience, _jku):
    token = mint(k.rs384, claims(EHR, audience))
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[10] != "A" else "B")
    return remember(".".join([header, payload, signature[:10] + flipped + signature[11:]]))


def _alg_swapped(k, audience, _jku):
    # An RS384 key used with RS256, which is not configured.
    return mint(k.rs384, claims(EHR, audience), alg="RS256")


def _alg_key_mismatch(k, audience, _jku):
    # The header says RS384 but names the EC key.
    return mint(k.rs384, claims(EHR, audience), headers={"kid": k.es384.kid})


def _wrong_tenant(k, audience, _jku):
    return mint(k.tenant, claims(TENANT_CLIENT, audience, tenant="org-9"))


def _missing_tenant(k, audience, _jku):
    return mint(k.tenant, claims(TENANT_CLIENT, audience))


def _not_a_jwt(k, audience, _jku):
    return "not-a-jwt-at-all"


def _garbage_segments(k, audience, _jku):
    return remember("eyJ!!!.e30.")


REFUSED = {
    "alg none": _none, "alg none with signature": _none_with_signature,
    "HS256 with the public key (PEM) as secret": _hs256_public_pem,
    "HS256 with the public JWK as secret": _hs256_public_jwk,
    "expired": _expired, "issued in the future": _future, "nbf in the future": _nbf_future,
    "lifetime too long": _too_long_lived, "wrong aud (string)": _wrong_aud, "wrong aud (list)": _wrong_aud_list,
    "aud from the Host header": _aud_from_host_header, "no aud": _no_aud, "untrusted iss": _untrusted_iss,
    "trusted iss, foreign key": _trusted_iss_foreign_key, "unknown kid": _unknown_kid,
    "missing kid": _missing_kid, "missing typ": _missing_typ, "wrong typ": _wrong_typ,
    "jku not allowlisted": _jku_not_allowlisted, "jku for a client without jku": _jku_for_client_without_jku,
    "missing jti": _missing_jti, "missing exp": _missing_exp, "missing iat": _missing_iat,
    "exp as a string": _string_exp, "tampered payload": _tampered_payload,
    "tampered signature": _tampered_signature, "RS256 not configured": _alg_swapped,
    "algorithm and key type differ": _alg_key_mismatch, "tenant not listed": _wrong_tenant,
    "tenant missing": _missing_tenant, "not a JWT": _not_a_jwt, "garbage segments": _garbage_segments,
}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("case", list(REFUSED))
def test_broken_tokens_are_a_bare_401(client, keys, jku_server, case, path, caplog, capsys):
    token = REFUSED[case](keys, aud(path), jku_server)
    response = call(client, path, token)
    assert response.status_code == 401
    assert response.get_data() == b"" and "Content-Type" not in response.headers
    assert response.headers["WWW-Authenticate"] == "Bearer"
    reasons = [r.reason for r in caplog.records if getattr(r, "reason", None)]
    assert reasons, "the reason must be logged"
    logged = caplog.text + capsys.readouterr().err
    assert "authentication failed" in logged
    for part in [token, *(p for p in token.split(".") if len(p) >= 8)]:
        assert part not in logged


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer"])
def test_missing_or_other_authorization_is_a_bare_401(client, header):
    headers = {} if header is None else {"Authorization": header}
    for path in ENDPOINTS:
        method = client.get if path == DISCOVERY else client.post
        response = method(path, data="{}", headers=headers)
        assert response.status_code == 401 and response.get_data() == b""


def test_replayed_jti_is_refused_on_every_endpoint(client, keys):
    for path in ENDPOINTS:
        token = mint(keys.es384, claims(EHR, aud(path)))
        assert call(client, path, token).status_code == 200
        assert call(client, path, token).status_code == 401
    # The same jti in a new token (re-signed) is a replay too.
    jti = uuid.uuid4().hex
    assert call(client, SERVICE, mint(keys.es384, claims(EHR, aud(SERVICE), jti=jti))).status_code == 200
    assert call(client, SERVICE, mint(keys.rs384, claims(EHR, aud(SERVICE), jti=jti))).status_code == 401
    # ... but another issuer may use the same jti.
    assert call(client, SERVICE, mint(keys.epic, claims(EPIC, aud(SERVICE), jti=jti))).status_code == 200


def test_preflight_needs_no_token(client):
    for path in ENDPOINTS:
        assert client.options(path, headers={"Origin": "https://ehr.example.org"}).status_code == 204


def test_aud_accepts_trailing_slash_and_case_of_host(client, keys):
    token = mint(keys.es384, claims(EHR, "HTTPS://CDS.example.org/base/cds-services/"))
    assert call(client, DISCOVERY, token).status_code == 200


def test_jku_not_allowlisted_is_never_fetched(client, keys):
    with JwksServer(jwks(keys.stranger)) as evil:
        token = mint(keys.stranger, claims(JKU_CLIENT, aud(SERVICE)), headers={"jku": evil.url})
        assert call(client, SERVICE, token).status_code == 401
        token = mint(keys.stranger, claims(EHR, aud(SERVICE)), headers={"jku": evil.url})
        assert call(client, SERVICE, token).status_code == 401
        assert evil.hits == 0


def test_untrusted_iss_fetches_no_key_and_touches_no_cache(client, jwt_app, keys, jku_server):
    hits = jku_server.hits
    token = mint(keys.jku, claims("https://evil.example.org", aud(SERVICE)), headers={"jku": jku_server.url})
    assert call(client, SERVICE, token).status_code == 401
    assert jku_server.hits == hits

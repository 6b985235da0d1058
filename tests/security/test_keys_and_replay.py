"""Key sources and the replay cache, with real servers: a jku server over HTTP, Redis on
127.0.0.1:6379, SQLite and (when CDS_TEST_POSTGRES_URL is set) PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from werkzeug.test import EnvironBuilder

from cds_hooks.app import create_app
from cds_hooks.auth import AuthenticationFailed, build_authenticator
from cds_hooks.clients import TrustedClients, load_trusted_clients
from cds_hooks.config import Config, ConfigError
from cds_hooks.jwks import ClientKeys, JwksFetcher, KeySetError, parse_jwk_set
from cds_hooks.jwt_auth import JwtAuthenticator
from cds_hooks.replay import (
    DatabaseReplayCache,
    MemoryReplayCache,
    RedisReplayCache,
    ReplayCacheUnavailable,
    replay_key,
)
from cds_hooks.serving import StaticRegistry, StaticSnapshot
from tests.databases import migrated_database
from tests.service.fakes import fake_ruleset

from .conftest import EHR, JKU_CLIENT, PUBLIC_BASE, jwt_config
from .jwks_server import JwksServer
from .keys import claims, jwks, mint, new_key

REDIS_URL = os.environ.get("CDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

AUD = PUBLIC_BASE + "/cds-services"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")


def authenticator(clients: list[dict], replay=None, fetcher: JwksFetcher | None = None,
                  **kwargs) -> JwtAuthenticator:
    trusted = TrustedClients.model_validate({"clients": clients})
    fetcher = fetcher or JwksFetcher(refetch_interval=0.0)
    return JwtAuthenticator(trusted=trusted, public_base_url=PUBLIC_BASE, keys=ClientKeys(trusted.clients, fetcher),
                            replay=replay or MemoryReplayCache(), **kwargs)


def discovery_request(token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return EnvironBuilder(path="/cds-services", headers=headers).get_request()


# --------------------------------------------------------------------------- jku


def test_jku_keys_are_cached_and_refetched_once_for_an_unknown_kid():
    first, second = new_key("ES384"), new_key("RS384")
    with JwksServer(jwks(first)) as server:
        fetcher = JwksFetcher(ttl=300, refetch_interval=0.0)
        auth = authenticator([{"iss": JKU_CLIENT, "jku": server.url}], fetcher=fetcher)
        for _ in range(3):
            auth.authenticate(discovery_request(mint(first, claims(JKU_CLIENT, AUD))))
        assert server.hits == 1  # cached
        # The client rotates: a new kid is fetched once, then cached.
        server.keys = jwks(first, second)
        auth.authenticate(discovery_request(mint(second, claims(JKU_CLIENT, AUD))))
        auth.authenticate(discovery_request(mint(second, claims(JKU_CLIENT, AUD))))
        assert server.hits == 2
        # An unknown kid: one refetch, then a 401.
        stranger = new_key("ES384")
        with pytest.raises(AuthenticationFailed, match="unknown kid"):
            auth.authenticate(discovery_request(mint(stranger, claims(JKU_CLIENT, AUD))))
        assert server.hits == 3


def test_unknown_kid_refetches_are_rate_limited():
    known = new_key("ES384")
    with JwksServer(jwks(known)) as server:
        auth = authenticator([{"iss": JKU_CLIENT, "jku": server.url}],
                             fetcher=JwksFetcher(ttl=300, refetch_interval=60))
        auth.authenticate(discovery_request(mint(known, claims(JKU_CLIENT, AUD))))
        for n in range(20):
            forged = new_key("ES384", kid=f"made-up-{n}")
            with pytest.raises(AuthenticationFailed):
                auth.authenticate(discovery_request(mint(forged, claims(JKU_CLIENT, AUD))))
        assert server.hits == 1


def test_jku_cache_expires_after_its_ttl():
    key = new_key("ES384")
    now = [1000.0]
    with JwksServer(jwks(key)) as server:
        fetcher = JwksFetcher(ttl=10, refetch_interval=60, clock=lambda: now[0])
        auth = authenticator([{"iss": JKU_CLIENT, "jku": server.url}], fetcher=fetcher)
        auth.authenticate(discovery_request(mint(key, claims(JKU_CLIENT, AUD))))
        now[0] += 11
        auth.authenticate(discovery_request(mint(key, claims(JKU_CLIENT, AUD))))
        assert server.hits == 2


def test_a_key_server_outage_keeps_the_last_good_keys():
    key = new_key("ES384")
    now = [1000.0]
    with JwksServer(jwks(key)) as server:
        fetcher = JwksFetcher(ttl=10, refetch_interval=0, clock=lambda: now[0])
        auth = authenticator([{"iss": JKU_CLIENT, "jku": server.url}], fetcher=fetcher)
        auth.authenticate(discovery_request(mint(key, claims(JKU_CLIENT, AUD))))
        server.status = 500
        now[0] += 60
        auth.authenticate(discovery_request(mint(key, claims(JKU_CLIENT, AUD))))
        assert server.hits == 2


@pytest.mark.parametrize("misbehaviour", ["slow", "huge", "redirect", "not json", "private key", "http 404"])
def test_jku_fetch_limits(misbehaviour):
    key = new_key("ES384")
    with JwksServer(jwks(key)) as server, JwksServer(jwks(key)) as elsewhere:
        if misbehaviour == "slow":
            server.delay = 1.0
        elif misbehaviour == "huge":
            server.padding = 200_000
        elif misbehaviour == "redirect":
            server.redirect_to = elsewhere.url
        elif misbehaviour == "not json":
            server.keys = "[[["  # serialized as a JSON string: not a JWK Set
        elif misbehaviour == "private key":
            jwk = key.public_jwk
            jwk["d"] = "AAAA"
            server.keys = {"keys": [jwk]}
        else:
            server.status = 404
        fetcher = JwksFetcher(timeout=0.3, max_bytes=64 * 1024, refetch_interval=0.0)
        auth = authenticator([{"iss": JKU_CLIENT, "jku": server.url}], fetcher=fetcher)
        started = time.monotonic()
        with pytest.raises(AuthenticationFailed, match="unknown kid"):
            auth.authenticate(discovery_request(mint(key, claims(JKU_CLIENT, AUD))))
        assert time.monotonic() - started < 2.0
        assert elsewhere.hits == 0  # redirects are not followed


def test_jwk_sets_refuse_private_and_symmetric_keys():
    key = new_key("ES384")
    private = dict(key.public_jwk, d="AAAA")
    with pytest.raises(KeySetError, match="private"):
        parse_jwk_set({"keys": [private]}, "test")
    with pytest.raises(KeySetError, match="symmetric"):
        parse_jwk_set({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]}, "test")
    with pytest.raises(KeySetError):
        parse_jwk_set({"nokeys": []}, "test")
    # Encryption keys and keys without kid are skipped, not used.
    kept = parse_jwk_set({"keys": [dict(key.public_jwk, use="enc"), {**key.public_jwk, "kid": None}]}, "t")
    assert kept == {}


def test_trusted_clients_with_private_keys_fail_at_start(tmp_path):
    key = new_key("ES384")
    path = tmp_path / "clients.yaml"
    path.write_text(yaml.safe_dump({"clients": [{"iss": EHR, "jwks": {"keys": [dict(key.public_jwk, d="AAAA")]}}]}))
    config = Config(auth="jwt", trusted_clients_file=path, public_base_url=PUBLIC_BASE).checked()
    with pytest.raises(ConfigError, match="private"):
        build_authenticator(config, load_trusted_clients(path))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_small_rsa_keys_are_refused():
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .keys import SigningKey

    weak = SigningKey("weak", "RS384", rsa.generate_private_key(public_exponent=65537, key_size=1024))
    auth = authenticator([{"iss": EHR, "jwks": jwks(weak)}])
    with pytest.raises(AuthenticationFailed, match="fits"):
        auth.authenticate(discovery_request(mint(weak, claims(EHR, AUD))))


def test_jwks_file_is_reread_for_key_rotation(tmp_path):
    old, new = new_key("ES384"), new_key("ES384")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(old)))
    auth = authenticator([{"iss": EHR, "jwks_file": str(path)}])
    auth.authenticate(discovery_request(mint(old, claims(EHR, AUD))))
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(discovery_request(mint(new, claims(EHR, AUD))))
    path.write_text(json.dumps(jwks(old, new)) + "\n")
    auth.authenticate(discovery_request(mint(new, claims(EHR, AUD))))
    # A broken file keeps the last good keys.
    path.write_text("{not json")
    auth.authenticate(discovery_request(mint(old, claims(EHR, AUD))))


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS384"])
def test_other_algorithms_when_configured(alg):
    key = new_key(alg)
    auth = authenticator([{"iss": EHR, "jwks": jwks(key)}], algorithms=["ES384", alg])
    auth.authenticate(discovery_request(mint(key, claims(EHR, AUD))))
    default = authenticator([{"iss": EHR, "jwks": jwks(key)}])
    with pytest.raises(AuthenticationFailed, match="not accepted"):
        default.authenticate(discovery_request(mint(key, claims(EHR, AUD))))


@pytest.mark.parametrize("algorithms", ["HS256", "none", "ES384,HS512", ""])
def test_symmetric_or_no_algorithms_can_not_be_configured(algorithms, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("clients:\n  - iss: a\n")
    env = {"CDS_AUTH": "jwt", "CDS_TRUSTED_CLIENTS": str(path), "CDS_PUBLIC_BASE_URL": PUBLIC_BASE,
           "CDS_JWT_ALGORITHMS": algorithms or " , "}
    with pytest.raises(ConfigError, match="asymmetric"):
        Config.from_env(env)
    with pytest.raises(ValueError):
        authenticator([{"iss": EHR, "jwks": {"keys": []}}], algorithms=[a for a in algorithms.split(",") if a])


def test_ps384_token_does_not_pass_as_rs384():
    key = new_key("RS384")
    auth = authenticator([{"iss": EHR, "jwks": jwks(key)}], algorithms=["RS384", "PS384"])
    # The JWK says RS384; a PS384 token with the same key is refused.
    with pytest.raises(AuthenticationFailed, match="fits"):
        auth.authenticate(discovery_request(mint(key, claims(EHR, AUD), alg="PS384")))


# --------------------------------------------------------------------------- replay caches


def _exercise_replay_cache(cache) -> None:
    iss, jti = "https://ehr.example.org", uuid.uuid4().hex
    expires = time.time() + 60
    assert cache.first_use(iss, jti, expires)
    assert not cache.first_use(iss, jti, expires)
    assert cache.first_use("https://other.example.org", jti, expires)
    # Many threads racing for one jti: exactly one wins.
    racing = uuid.uuid4().hex
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: cache.first_use(iss, racing, expires), range(16)))
    assert results.count(True) == 1


def test_memory_replay_cache():
    _exercise_replay_cache(MemoryReplayCache())


@needs_redis
def test_redis_replay_cache_is_shared_and_expires():
    prefix = f"cds-test:{uuid.uuid4().hex}:"
    first, second = RedisReplayCache(REDIS_URL, prefix=prefix), RedisReplayCache(REDIS_URL, prefix=prefix)
    try:
        _exercise_replay_cache(first)
        jti = uuid.uuid4().hex
        assert first.first_use(EHR, jti, time.time() + 0.3)
        assert not second.first_use(EHR, jti, time.time() + 60)  # another replica sees it
        import redis

        raw = redis.Redis.from_url(REDIS_URL)
        stored = raw.keys(prefix + "*")
        assert prefix.encode() + replay_key(EHR, jti).encode() in stored
        assert all(jti.encode() not in key for key in stored)  # only a hash is kept
        ttl = raw.pttl(prefix + replay_key(EHR, jti))
        assert 0 < ttl <= 300
        time.sleep(0.4)
        assert second.first_use(EHR, jti, time.time() + 60)  # expired with the token
        raw.delete(*raw.keys(prefix + "*"))
        raw.close()
    finally:
        first.close()
        second.close()


def test_redis_down_fails_closed():
    cache = RedisReplayCache("redis://127.0.0.1:1/0", timeout=0.2)
    with pytest.raises(ReplayCacheUnavailable):
        cache.first_use(EHR, "x", time.time() + 60)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def replay_database(request, tmp_path):
    with migrated_database(request.param, tmp_path) as db:
        yield db


def test_database_replay_cache(replay_database):
    from sqlalchemy import select

    from cds_hooks.storage.models import ReplayToken

    now = [time.time()]
    cache = DatabaseReplayCache(replay_database, purge_every=0.0, clock=lambda: now[0])
    _exercise_replay_cache(cache)
    # Two processes on one database share it.
    other = DatabaseReplayCache(replay_database)
    jti = uuid.uuid4().hex
    assert cache.first_use(EHR, jti, now[0] + 30)
    assert not other.first_use(EHR, jti, now[0] + 30)
    with replay_database.session() as session:
        keys = set(session.scalars(select(ReplayToken.key)))
    assert replay_key(EHR, jti) in keys and all(jti not in k for k in keys)
    # Expired rows are purged.
    now[0] += 3600
    cache.first_use(EHR, uuid.uuid4().hex, now[0] + 30)
    with replay_database.session() as session:
        assert len(list(session.scalars(select(ReplayToken.key)))) == 1


@needs_redis
def test_service_uses_redis_when_configured(tmp_path, keys, jku_server, fhir):
    from .conftest import write_trusted

    trusted = write_trusted(tmp_path, keys, jku_server.url, fhir.base_url)
    apps = [create_app(jwt_config(tmp_path, trusted, redis_url=REDIS_URL,
                                  database_url=f"sqlite:///{tmp_path / f'replica{n}.sqlite3'}"),
                       registry=StaticRegistry(StaticSnapshot([fake_ruleset()]))) for n in range(2)]
    try:
        assert all(isinstance(app.extensions["cds"].authenticator.replay, RedisReplayCache) for app in apps)
        token = mint(keys.es384, claims(EHR, AUD))
        headers = {"Authorization": f"Bearer {token}"}
        assert apps[0].test_client().get("/cds-services", headers=headers).status_code == 200
        # The second replica (its own database) still refuses the replay: Redis is shared.
        assert apps[1].test_client().get("/cds-services", headers=headers).status_code == 401
    finally:
        for app in apps:
            app.extensions["cds"].close()


def test_service_answers_503_when_the_replay_cache_is_down(tmp_path, keys, jku_server, fhir):
    from .conftest import write_trusted

    trusted = write_trusted(tmp_path, keys, jku_server.url, fhir.base_url)
    app = create_app(jwt_config(tmp_path, trusted, redis_url="redis://127.0.0.1:1/0"),
                     registry=StaticRegistry(StaticSnapshot([fake_ruleset()])))
    try:
        token = mint(keys.es384, claims(EHR, AUD))
        response = app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 503
        assert response.get_json()["resourceType"] == "OperationOutcome"
        # Without a valid token it is still a 401: the cache is only consulted last.
        assert app.test_client().get("/cds-services").status_code == 401
    finally:
        app.extensions["cds"].close()


def test_concurrent_calls_with_one_token_succeed_once(jwt_app, keys):
    token = mint(keys.es384, claims(EHR, AUD))
    barrier = threading.Barrier(6)

    def call(_):
        client = jwt_app.test_client()
        barrier.wait()
        return client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(call, range(6)))
    assert sorted(statuses) == [200, 401, 401, 401, 401, 401]

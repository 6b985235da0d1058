# Production image: gunicorn, non-root, JWT authentication on by default.
# The service refuses to start without trusted clients (CDS_TRUSTED_CLIENTS) and
# a public base URL (CDS_PUBLIC_BASE_URL); mount the trusted-client file and
# give CDS_DATABASE_URL (PostgreSQL) for more than one replica.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cql ./cql
COPY cds_hooks ./cds_hooks
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/*.whl

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CDS_AUTH=jwt \
    CDS_INSTANCE_DIR=/var/lib/cds-hooks \
    CDS_RULES_DIR=/app/rules \
    CDS_WORKERS=2 \
    CDS_THREADS=4
RUN groupadd --system --gid 10001 cds \
 && useradd --system --uid 10001 --gid cds --home-dir /app --shell /usr/sbin/nologin cds
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels neuropathy-cds && rm -rf /wheels
WORKDIR /app
# Bundled rule sets and the FHIR data they link to (value sets, examples).
COPY rules ./rules
COPY fhir ./fhir
RUN mkdir -p /var/lib/cds-hooks && chown cds:cds /var/lib/cds-hooks
USER cds
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["cds-hooks", "serve", "--host", "0.0.0.0", "--port", "8080"]

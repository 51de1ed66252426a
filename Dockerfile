# whoelse as a service: `docker compose up` (compose.yaml) runs it with PostgreSQL; README "Deployment".

# Build stage: the pinned dependencies and whoelse itself, installed into a virtualenv that is copied as a whole.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/whoelse
WORKDIR /src
# The runtime lock alone first, so a code change does not reinstall every dependency; the test and lint tools
# are in requirements-dev.lock and stay out of the image.
COPY requirements.lock ./
RUN /opt/whoelse/bin/pip install --require-virtualenv -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
# The bot scopes an install asks for are read from the manifest, which travels inside the package.
COPY manifest.yml ./bot/slack/oauth/manifest.yml
COPY handlers ./handlers
COPY habits ./habits
COPY models ./models
COPY scheduler ./scheduler
COPY migrations ./migrations
# Everything it needs is pinned above: nothing unpinned may come in with the package.
RUN /opt/whoelse/bin/pip install --no-deps .

# Run stage: the slim image, the virtualenv, and a user that owns nothing but its data directory.
FROM python:3.11-slim
ENV PATH=/opt/whoelse/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    DATABASE_URL=sqlite:////data/whoelse.db
RUN groupadd --system whoelse \
    && useradd --system --gid whoelse --home-dir /data --no-create-home whoelse \
    && mkdir /data && chown whoelse:whoelse /data
COPY --from=build /opt/whoelse /opt/whoelse
COPY docker/entrypoint.sh /usr/local/bin/whoelse-entrypoint
WORKDIR /data
USER whoelse
EXPOSE 3000
VOLUME ["/data"]
# Liveness only (the database answers); /readyz says whether this replica should get traffic.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"
ENTRYPOINT ["whoelse-entrypoint"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# Build stage: resolve and install the pinned runtime dependencies into a virtualenv (no dev extras).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY etl ./etl
RUN /venv/bin/pip install .

# Runtime stage: the virtualenv and the migrations only, run by an unprivileged user.
FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --no-create-home --home-dir /app reachimpact
COPY --from=build /venv /venv
WORKDIR /app
COPY alembic ./alembic
ENV PATH="/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
USER reachimpact
EXPOSE 8080
# Migrations run once per deploy as Fly's release_command, not in every machine's start-up.
CMD ["reachimpact", "serve", "--no-migrate"]

# syntax=docker/dockerfile:1
# The base image is an argument only so that a machine without Docker Hub can build on its own copy of it
# (bench/README.md says how the image was tried here); Fly's builder uses the default.
ARG PYTHON_IMAGE=python:3.11-slim

# Build stage: build the wheel (the migrations ship inside it), install it with its runtime dependencies only.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY service ./service
COPY etl ./etl
COPY alembic ./alembic
# pip and setuptools leave the virtualenv once it is built: the runtime image has no installer (22 MB less).
RUN /venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /venv/bin/pip install /wheels/reachimpact-*.whl \
 && /venv/bin/pip uninstall --yes --quiet pip setuptools

# Runtime stage: the virtualenv only, run by an unprivileged user; no sources, no compiler, no dev extras.
FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --no-create-home --home-dir /app reachimpact
COPY --from=build /venv /venv
WORKDIR /app
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

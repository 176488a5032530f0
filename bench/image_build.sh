#!/usr/bin/env bash
# Build the image where Docker Hub is out of reach: a stand-in for python:3.11-slim made from Debian's own
# packages (bookworm's python3 is 3.11), then the real Dockerfile on top of it. Needs root, debootstrap, docker.io
# and a running dockerd (e.g. `dockerd --storage-driver=vfs --iptables=false --bridge=none &`).
# Where python:3.11-slim can be pulled, `docker build -t reachimpact:local .` is all it takes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOTFS=${ROOTFS:-/tmp/reachimpact-base-rootfs}
BASE=local/debian-python:3.11-slim

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    bookworm "$ROOTFS" http://deb.debian.org/debian
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/{doc,man,info}/*
  # This machine reaches the package index through its own certificate authority: trust it inside the build too.
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  tar -C "$ROOTFS" -c . | docker import -c 'ENV LANG=C.UTF-8' \
    -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' -c 'CMD ["python3"]' - "$BASE"
fi
DOCKER_BUILDKIT=0 docker build --network host --build-arg PYTHON_IMAGE="$BASE" -t reachimpact:local .

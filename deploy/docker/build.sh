#!/usr/bin/env bash
# `make image`: build clubholohub:<version of setup.cfg> from deploy/docker/Dockerfile.
#
# Engine: Docker where `docker info` answers (an engine, not just the CLI), else podman (installed with apt-get
# when missing and allowed). Bases: the Dockerfile's FROM images are used when present locally, pulled when a
# registry answers, and otherwise built under the same name from Debian packages with mmdebstrap (said loudly):
# python:3.11-slim-bookworm from bookworm's python3 (3.11.2), node:20-trixie-slim from trixie's nodejs (20.19).
# Layers are cached: a rebuild without changes takes seconds.
#
# Environment: CLUBHUB_IMAGE (default clubholohub:<version>), CLUBHUB_BUILD_CA (a CA bundle handed to pip and
# npm as a build secret; default the host's), CLUBHUB_BASE_PULL_TIMEOUT (seconds, default 120).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
VERSION=$(sed -n 's/^version *= *//p' setup.cfg)
IMAGE=${CLUBHUB_IMAGE:-clubholohub:${VERSION}}
PYTHON_BASE=docker.io/library/python:3.11-slim-bookworm
NODE_BASE=docker.io/library/node:20-trixie-slim
CA=${CLUBHUB_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
PULL_TIMEOUT=${CLUBHUB_BASE_PULL_TIMEOUT:-120}
SUDO=$([ "$(id -u)" = 0 ] || command -v sudo || true)
started=$SECONDS

say() { printf 'make image: %s\n' "$*" >&2; }

apt_install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null \
        || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

if docker info >/dev/null 2>&1; then
    ENGINE=docker
    export DOCKER_BUILDKIT=1  # RUN --mount (secrets, caches) needs BuildKit
else
    if ! command -v podman >/dev/null; then
        say "no container engine answers (docker info failed) and podman is missing: installing podman"
        apt_install podman buildah runc catatonit
    fi
    ENGINE=podman
    export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/docker/containers.conf}
fi
say "engine: $ENGINE"

# ensure_base NAME SUITE PACKAGES IMPORT-CHANGES...
ensure_base() {
    local name=$1 suite=$2 packages=$3
    shift 3
    if $ENGINE image inspect "$name" >/dev/null 2>&1; then
        say "base $name: present locally"
        return
    fi
    if timeout "$PULL_TIMEOUT" $ENGINE pull -q "$name" >/dev/null 2>&1; then
        say "base $name: pulled"
        return
    fi
    say "base $name: NO REGISTRY ANSWERED; building a same-named base from Debian $suite packages ($packages) with mmdebstrap"
    command -v mmdebstrap >/dev/null || apt_install mmdebstrap
    local tmp
    tmp=$(mktemp -d)
    local mirror=http://deb.debian.org/debian
    $SUDO mmdebstrap --quiet --variant=minbase --include="$packages" \
        --aptopt='Acquire::Retries "3"' \
        "$suite" "$tmp/rootfs.tar" \
        "deb $mirror $suite main" "deb $mirror $suite-updates main" \
        "deb http://deb.debian.org/debian-security $suite-security main"
    local changes=(--change "LABEL org.clubholohub.base=debian-$suite-mmdebstrap" --change "ENV LANG=C.UTF-8")
    for change in "$@"; do changes+=(--change "$change"); done
    $ENGINE import --quiet "${changes[@]}" "$tmp/rootfs.tar" "$name" >/dev/null
    rm -rf "$tmp"
    say "base $name: built from Debian $suite"
}

ensure_base "$PYTHON_BASE" bookworm python3,python3-venv,ca-certificates 'CMD ["python3"]'
ensure_base "$NODE_BASE" trixie nodejs,npm,ca-certificates 'CMD ["node"]'

build=(build -f deploy/docker/Dockerfile -t "$IMAGE" --build-arg "VERSION=$VERSION"
    --build-arg "PYTHON_BASE=$PYTHON_BASE" --build-arg "NODE_BASE=$NODE_BASE")
# The web and builder stages are independent: both download at once (mostly network time on a cold build).
[ "$ENGINE" = podman ] && build+=(--pull=never --layers --jobs=2)
# The CA bundle reaches pip and npm as a secret: through an intercepting proxy they need it, and no layer keeps it.
if [ -s "$CA" ]; then
    build+=(--secret "id=ca,src=$CA")
else
    say "no CA bundle at $CA: pip and npm use their own"
    empty=$(mktemp) && build+=(--secret "id=ca,src=$empty")
fi
for var in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    [ -n "${!var:-}" ] && build+=(--build-arg "$var")
done

$ENGINE "${build[@]}" .
bytes=$($ENGINE image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE: $((bytes / 1000000)) MB in $((SECONDS - started)) s"

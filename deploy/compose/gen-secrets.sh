#!/bin/sh
# Writes the secret files compose.yaml mounts (./secrets/*), each store's password and the URL the
# gateways use to reach it kept in step. Existing files are kept, so running it again changes nothing;
# delete ./secrets (and the volumes: `docker compose down -v`) to start over with new ones.
set -eu
cd "$(dirname "$0")"
# The directory keeps other users of this machine out; the files themselves must be readable by the
# containers' own users (compose bind-mounts them as they are, owner and mode included).
mkdir -p secrets
chmod 700 secrets

random_hex() {  # hex only: safe inside a URL without escaping
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

put() {  # put NAME VALUE: write secrets/NAME unless it exists
    if [ ! -s "secrets/$1" ]; then
        printf '%s' "$2" >"secrets/$1"  # no trailing newline: it would become part of the value
        chmod 644 "secrets/$1"
        echo "wrote secrets/$1"
    fi
}

put postgres_password "$(random_hex 24)"
put mongo_password "$(random_hex 24)"
put redis_password "$(random_hex 24)"
put postgres_url "postgres://clubhub:$(cat secrets/postgres_password)@postgres:5432/clubhub"
put mongo_url "mongodb://clubhub:$(cat secrets/mongo_password)@mongo:27017/clubhub?authSource=admin"
put redis_url "redis://:$(cat secrets/redis_password)@redis:6379/0"
# JWT signing key (prod wants at least 32 bytes) and the Ray cluster's token (`ray get-auth-token` format).
put secret_key "$(random_hex 48)"
put ray_auth_token "$(random_hex 32)"
put grafana_admin_password "$(random_hex 16)"

#!/bin/sh
# Prints a deploy/.env with fresh secrets for deploy/compose.yaml:
#   deploy/compose/generate-env.sh > deploy/.env
# Hex passwords, so they need no escaping inside the postgres:// URLs.
set -eu
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
echo "POSTGRES_PASSWORD=$(hex 24)"
echo "CONTROL_DB_PASSWORD=$(hex 24)"
echo "RUNTIME_DB_PASSWORD=$(hex 24)"
echo "GATEWAY_DB_PASSWORD=$(hex 24)"
# kid:base64secret (32 bytes), current key first (docs/operations.md §8).
echo "AUTH_SIGNING_KEYS=k$(date +%s):$(head -c 32 /dev/urandom | base64 | tr -d '\n')"

#!/bin/sh
# The image's entrypoint: its first argument names the process to run, the rest go to it.
# `exec` makes node the container's main process, so SIGTERM from `docker stop` or Kubernetes
# reaches the app's own shutdown hooks directly.
set -eu

# Invoked as `oa` (the symlink in /usr/local/bin): the CLI, e.g. `docker compose run --rm migrate oa migrate status`.
if [ "$(basename "$0")" = "oa" ]; then
  exec node /app/dist/apps/cli/src/main.js "$@"
fi

command="${1:-help}"
[ "$#" -gt 0 ] && shift

case "$command" in
  control) exec node /app/dist/apps/control/src/main.js "$@" ;;
  runtime) exec node /app/dist/apps/runtime/src/main.js "$@" ;;
  gateway) exec node /app/dist/apps/khala-gateway/src/main.js "$@" ;;
  projector-worker) exec node /app/dist/apps/runtime/src/projector-worker.js "$@" ;;
  embedded) exec node /app/dist/apps/embedded/src/main.js "$@" ;;
  oa) exec node /app/dist/apps/cli/src/main.js "$@" ;;
  help | --help | -h)
    cat <<'USAGE'
khala image: docker run khala:<tag> <command> [args]
  control            control plane (CONTROL_PORT, default 3001)
  runtime            runtime commands; RUNTIME_PROJECTORS=off when projector-worker runs them (RUNTIME_PORT, 3002)
  gateway            khala-gateway, sync:v1 WebSocket (KHALA_PORT, 3003)
  projector-worker   runtime projectors; /metrics and /health only (PROJECTOR_WORKER_PORT, 3004)
  embedded           all three apps in one process (development: PGlite in DATA_DIR unless DATABASE_URL)
  oa <args>          operator CLI, e.g. `oa migrate up` (needs the admin DATABASE_URL)
Guide: docs/deploy.md
USAGE
    ;;
  *)
    echo "khala-entrypoint: unknown command '$command' (try: help)" >&2
    exit 64
    ;;
esac

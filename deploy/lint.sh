#!/bin/sh
# Lints the deploy artifacts with whichever tools are installed (the Debian packages yamllint,
# ShellCheck, caddy and docker-compose, or the Docker CLI compose plugin), skipping the others.
# Complements `npm test -- test/deploy`, which needs none of them. Run from anywhere.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0
run() {
  if command -v "$1" >/dev/null 2>&1; then
    echo "== $*"
    "$@" || status=1
  else
    echo "-- $1 not installed, skipped"
  fi
}

run yamllint -d '{extends: default, rules: {line-length: {max: 160}, document-start: disable, truthy: {check-keys: false}}}' deploy
run shellcheck deploy/docker/khala-entrypoint.sh deploy/compose/generate-env.sh deploy/lint.sh
if command -v caddy >/dev/null 2>&1; then
  echo "== caddy adapt deploy/compose/Caddyfile"
  caddy adapt --config deploy/compose/Caddyfile --adapter caddyfile >/dev/null || status=1
else
  echo "-- caddy not installed, skipped"
fi

# Compose schema check with throwaway secrets. Compose v1 (Debian's docker-compose) predates the
# top-level `name`, so it gets a copy without it.
env_file=$(mktemp) && copy=$(mktemp deploy/.compose-lint-XXXXXX.yaml) || exit 1
trap 'rm -f "$env_file" "$copy"' EXIT
sh deploy/compose/generate-env.sh >"$env_file"
if docker compose version >/dev/null 2>&1; then
  echo "== docker compose config"
  docker compose --env-file "$env_file" -f deploy/compose.yaml config --quiet || status=1
elif command -v docker-compose >/dev/null 2>&1; then
  echo "== docker-compose config (v1, without the top-level name)"
  grep -v '^name:' deploy/compose.yaml >"$copy"
  docker-compose --env-file "$env_file" -f "$copy" config --quiet || status=1
else
  echo "-- docker compose not installed, skipped"
fi
exit $status

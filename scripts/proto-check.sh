#!/usr/bin/env bash
# CI gate for the proto contracts (INV-01). Fails (exit 1) when any of these fails, after running
# all of them so one run shows every problem:
#   1. buf lint        proto/buf.yaml (STANDARD)
#   2. buf breaking    the tree against the committed baseline image, category FILE
#   3. freshness       a fresh `proto:gen` into a temp dir must equal libs/contracts/src/generated
# Offline: buf comes from node_modules (@bufbuild/buf) and needs no network for these commands.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
buf="$root/node_modules/.bin/buf"
baseline="proto/baseline/image.binpb"
generated="libs/contracts/src/generated"
failed=()

echo "proto-check: buf lint"
"$buf" lint proto || failed+=("buf lint")

echo "proto-check: buf breaking against $baseline"
if [[ ! -f "$baseline" ]]; then
  echo "missing $baseline; create it with: npm run proto:baseline" >&2
  failed+=("buf breaking (no baseline)")
else
  "$buf" breaking proto --against "$baseline" || failed+=("buf breaking")
fi

echo "proto-check: generated code freshness"
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
if ! "$root/scripts/proto-gen.sh" "$fresh"; then
  failed+=("proto:gen")
elif ! diff -ru "$generated" "$fresh" >"$fresh.diff"; then
  # The generated files are large; the head of the diff is enough to see what moved.
  head -n 200 "$fresh.diff"
  echo "$generated is stale: run npm run proto:gen and commit the result" >&2
  failed+=("generated code is stale")
fi
rm -f "$fresh.diff"

# Not a failure: additive changes are allowed, but until the baseline records them a later type
# change of a new field would go unnoticed.
current="$fresh/current.binpb"
if [[ -f "$baseline" ]] && "$buf" build proto --exclude-source-info -o "$current" && ! cmp -s "$current" "$baseline"; then
  echo "note: proto/ has changes the baseline does not record yet; once they are reviewed, run npm run proto:baseline"
fi

if ((${#failed[@]} > 0)); then
  printf 'proto-check FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "proto-check: ok"

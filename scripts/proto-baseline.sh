#!/usr/bin/env bash
# Records the current proto/ tree as the contract that `buf breaking` protects
# (proto/baseline/image.binpb). Run it deliberately, after a reviewed additive change: committing a
# new baseline together with a breaking change is how a break would slip through review.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mkdir -p proto/baseline
# No source info: the breaking check needs only the descriptors, and the image stays small and
# free of comment churn.
"$root/node_modules/.bin/buf" build proto --exclude-source-info -o proto/baseline/image.binpb
echo "wrote proto/baseline/image.binpb"

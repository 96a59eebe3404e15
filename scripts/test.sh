#!/usr/bin/env bash
# THE test command (README):  sudo bash scripts/test.sh [vitest args...]
# Prepares the test host (scripts/setup-test-host.sh: users, registries, fixture images), then runs
# vitest from the repository root; e2e tests run the INSTALLED tspod (scripts/install.sh) as the
# unprivileged user tspodtest. TSPOD_BIN=podman runs the e2e suite against podman instead.
# Exits with vitest's exit code.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $(id -u) == 0 ]] || { echo "scripts/test.sh: run as root (sudo bash scripts/test.sh)" >&2; exit 1; }
bash "$REPO/scripts/setup-test-host.sh"
cd "$REPO"
if [[ ! -x node_modules/.bin/vitest ]]; then
  echo "scripts/test.sh: node_modules missing: run scripts/install.sh (or npm ci) first" >&2
  exit 1
fi
set +e
npx --no-install vitest run "$@"
rc=$?
exit $rc

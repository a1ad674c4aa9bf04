#!/usr/bin/env bash
# DERP benchmark entry point (npm run bench:derp): raises the fd limit for the
# 10k-connection runs, then runs bench/derp/run.ts with the given flags.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$ROOT"
exec node --import tsx bench/derp/run.ts "$@"

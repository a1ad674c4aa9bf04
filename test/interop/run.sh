#!/usr/bin/env bash
# Interop stage: real upstream Go peers against tailnetd.
#
#   1. build tailnetd (npm run build) unless TAILNETD_SKIP_BUILD=1 or run by `npm run test:interop`
#   2. coder/ (Coder v0.19.0 agent, tailnet peers): compile its tests once (go test -c), then run
#      the binary with a timeout; the tests start their own tailnetd per scenario
#   3. derp/ + derp-coder/ (DERP client suites): delegated to run-derp.sh, which starts the relay
#      and runs both suites; a module dir without such a driver is run like coder/
#   4. print one summary line per test/suite and exit non-zero if anything failed
#
# A module dir may hold a one-line `go.toolchain` file (e.g. go1.20.14): its tests are built
# with GOTOOLCHAIN set to that (old gVisor in 2023-era Coder refuses to build with Go >= 1.21).
# Environment knobs:
#   INTEROP_MODULES       space-separated subset of: coder coder-v2 derp (default: all, when present)
#   INTEROP_RUN           -test.run regexp passed to every module
#   INTEROP_BUILD_TIMEOUT seconds per module build (default 1200: a cold build of Coder v2 takes ~11 min here)
#   INTEROP_TEST_TIMEOUT  seconds per module run (default 420)
#   INTEROP_LOG_DIR       where process logs go (default: a fresh dir under $TMPDIR)
#   GOMODCACHE / GOCACHE  reuse these between CI runs to keep the stage well under 15 minutes
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_timeout="${INTEROP_BUILD_TIMEOUT:-1200}"
test_timeout="${INTEROP_TEST_TIMEOUT:-420}"
log_dir="${INTEROP_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tailnetd-interop.XXXXXX")}"
bin_dir="$log_dir/bin"
mkdir -p "$bin_dir"
# The agent/client modules are 2023 code whose checksums the public sumdb does not serve for
# every version; go.sum pins them, so skip the sumdb lookups for these prefixes.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/coder,github.com/tailscale"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

say() { printf '[interop] %s\n' "$*"; }

# `npm run test:interop` has just built it.
[[ "${npm_lifecycle_event:-}" == "test:interop" ]] && TAILNETD_SKIP_BUILD=1
if [[ "${TAILNETD_SKIP_BUILD:-0}" != 1 ]]; then
  say "building tailnetd (npm run build)"
  if ! (cd "$root" && npm run build --silent); then
    say "FAIL: tailnetd does not build"
    exit 1
  fi
fi
if [[ ! -f "$root/dist/cli/index.js" ]]; then
  say "FAIL: $root/dist/cli/index.js missing after build"
  exit 1
fi

summary=()
failed=0
start_all=$(date +%s)

# The DERP suites need a relay started for them; run-derp.sh (owned with those modules) does it.
run_derp=0
modules=()
for m in ${INTEROP_MODULES:-coder coder-v2 derp}; do
  if [[ "$m" == derp || "$m" == derp-coder ]] && [[ -f "$here/run-derp.sh" ]]; then
    [[ -f "$here/derp/go.mod" || -f "$here/derp-coder/go.mod" ]] && run_derp=1
  elif [[ -f "$here/$m/go.mod" ]]; then
    modules+=("$m")
  fi
done
if [[ ${#modules[@]} -eq 0 && $run_derp -eq 0 ]]; then
  say "no Go interop modules present"
  exit 0
fi

for m in "${modules[@]}"; do
  dir="$here/$m"
  tc=""
  [[ -f "$dir/go.toolchain" ]] && tc="$(tr -d ' \n' < "$dir/go.toolchain")"
  test_bin="$bin_dir/$m.test"
  out="$log_dir/$m.out"
  say "== $m: building tests${tc:+ with $tc}"
  t0=$(date +%s)
  tc_env=()
  [[ -n "$tc" ]] && tc_env=(GOTOOLCHAIN="$tc")
  if ! (cd "$dir" && env "${tc_env[@]}" timeout "$build_timeout" go test -c -o "$test_bin" .) >"$log_dir/$m.build.log" 2>&1; then
    cat "$log_dir/$m.build.log"
    summary+=("FAIL  $m (build, see $log_dir/$m.build.log)")
    failed=1
    continue
  fi
  say "== $m: built in $(( $(date +%s) - t0 ))s; running"
  t0=$(date +%s)
  args=(-test.v -test.timeout "$((test_timeout - 10))s")
  [[ -n "${INTEROP_RUN:-}" ]] && args+=(-test.run "$INTEROP_RUN")
  (cd "$dir" && env "${tc_env[@]}" INTEROP_LOG_DIR="$log_dir/$m" \
    timeout --kill-after=10 "$test_timeout" "$test_bin" "${args[@]}") 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  say "== $m: exit $rc after $(( $(date +%s) - t0 ))s"
  while read -r line; do summary+=("$line"); done < <(
    grep -E '^\s*--- (PASS|FAIL|SKIP)' "$out" | sed -E "s/^\s*--- (PASS|FAIL|SKIP): ([^ ]+) \((.*)\)/\1  $m \2 (\3)/"
  )
  if [[ $rc -ne 0 ]]; then
    failed=1
    if ! grep -qE '^\s*--- FAIL' "$out"; then
      summary+=("FAIL  $m (exit $rc without a failing test: build/TestMain/timeout, see $out)")
    fi
  fi
done

if [[ $run_derp -eq 1 ]]; then
  say "== derp: delegating to run-derp.sh"
  t0=$(date +%s)
  timeout --kill-after=10 "$((build_timeout + test_timeout))" bash "$here/run-derp.sh" 2>&1 | tee "$log_dir/derp.out"
  rc=${PIPESTATUS[0]}
  say "== derp: exit $rc after $(( $(date +%s) - t0 ))s"
  while read -r line; do summary+=("$line"); done < <(
    grep -E '^derp-interop: [^ ]+ (PASS|FAIL)' "$log_dir/derp.out" | sed -E 's/^derp-interop: ([^ ]+) (PASS|FAIL)(.*)/\2  derp \1\3/'
  )
  if [[ $rc -ne 0 ]]; then
    failed=1
    grep -qE '^derp-interop: [^ ]+ FAIL' "$log_dir/derp.out" || summary+=("FAIL  derp (exit $rc, see $log_dir/derp.out)")
  fi
fi

echo
say "summary ($(( $(date +%s) - start_all ))s, logs in $log_dir):"
for line in "${summary[@]}"; do printf '  %s\n' "$line"; done
if [[ $failed -ne 0 ]]; then
  say "RESULT: FAIL"
  exit 1
fi
say "RESULT: PASS"

#!/usr/bin/env bash
# DERP interop: real Go DERP clients (tailscale.com v1.102.5 and Coder's
# April-2023 fork) against tailnetd's relay over plain HTTP on loopback.
#
#   bash test/interop/run-derp.sh                 # against tailnetd (test/interop/derp/serve.ts)
#   bash test/interop/run-derp.sh --against-derper # same suites against Tailscale's derper (reference)
#
# Exit status is non-zero if anything fails; logs are kept (path printed) on failure.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MODE="tailnetd"
[[ "${1:-}" == "--against-derper" ]] && MODE="derper"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/tailnetd-derp-interop.XXXXXX")"
BIN="$LOGS/bin"
mkdir -p "$BIN"
SERVER_PID=""
export GOFLAGS="${GOFLAGS:-} -p=1" GOTOOLCHAIN=local GONOSUMDB=github.com/coder/tailscale

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# start_tailnetd <mesh key or ""> <name>: launches serve.ts, exports its TAILNETD_* lines.
start_tailnetd() {
  local mesh="$1" name="$2"
  local args=(--map-out "$LOGS/derpmap-$name.json")
  [[ -n "$mesh" ]] && args+=(--mesh-key "$mesh")
  (cd "$ROOT" && exec node --import tsx test/interop/derp/serve.ts "${args[@]}") >"$LOGS/server-$name.env" 2>"$LOGS/server-$name.log" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    grep -q '^READY=1' "$LOGS/server-$name.env" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^READY=1' "$LOGS/server-$name.env"; then
    cat "$LOGS/server-$name.log"; echo "derp-interop: tailnetd did not start; logs in $LOGS"; exit 1
  fi
  set -a
  # shellcheck disable=SC1090
  source <(grep '^TAILNETD_' "$LOGS/server-$name.env")
  set +a
}

echo "derp-interop: building Go test binaries (logs in $LOGS)"
(cd "$ROOT/test/interop/derp" && go test -c -tags ts_debug_websockets -o "$BIN/upstream.test" .) >"$LOGS/build-upstream.log" 2>&1 \
  || { cat "$LOGS/build-upstream.log"; echo "derp-interop: build failed; logs in $LOGS"; exit 1; }
(cd "$ROOT/test/interop/derp-coder" && go test -c -o "$BIN/coder.test" .) >"$LOGS/build-coder.log" 2>&1 \
  || { cat "$LOGS/build-coder.log"; echo "derp-interop: build failed; logs in $LOGS"; exit 1; }

if [[ "$MODE" == "derper" ]]; then
  DERPER="$ROOT/bench/.out/bin/derper"
  if [[ ! -x "$DERPER" ]]; then
    (cd "$ROOT/test/interop/derp" && GOBIN="$ROOT/bench/.out/bin" go install tailscale.com/cmd/derper@v1.102.5) >"$LOGS/build-derper.log" 2>&1
  fi
  PORT="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
  MESH="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  echo -n "$MESH" >"$LOGS/mesh.key"
  "$DERPER" -a "127.0.0.1:$PORT" -http-port=-1 -stun=false -c "$LOGS/derper.key" -mesh-psk-file "$LOGS/mesh.key" >"$LOGS/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    grep -q 'serving on' "$LOGS/server.log" 2>/dev/null && break
    sleep 0.1
  done
  node --import tsx "$ROOT/test/interop/derp/print-map.ts" "http://127.0.0.1:$PORT" >"$LOGS/derpmap.json"
  export TAILNETD_DERP_URL="http://127.0.0.1:$PORT/derp" TAILNETD_MESH_KEY="$MESH" TAILNETD_DERP_MAP="$LOGS/derpmap.json"
  export TAILNETD_INTEROP_REFERENCE=derper
else
  start_tailnetd "" upstream
fi
echo "derp-interop: relay ($MODE) at $TAILNETD_DERP_URL"

FAILED=0
run() {
  local name="$1"; shift
  if timeout 240 "$@" -test.v -test.count=1 -test.timeout=200s >"$LOGS/$name.log" 2>&1; then
    echo "derp-interop: $name PASS ($(grep -c '^--- PASS' "$LOGS/$name.log") tests)"
  else
    FAILED=1
    echo "derp-interop: $name FAIL"
    grep -E '^(--- FAIL|    --- FAIL)|_test\.go:[0-9]+: ' "$LOGS/$name.log" | grep -v 'Connect: connecting' | head -40 || true
  fi
}
run upstream "$BIN/upstream.test"
if [[ "$MODE" == "tailnetd" ]]; then
  # Coder replicas mesh with a 32-character random string, not 64 hex: a
  # second relay with such a key for the fork's suite.
  cleanup
  start_tailnetd "$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)" coder
  echo "derp-interop: relay (tailnetd, 32-char mesh key) at $TAILNETD_DERP_URL"
fi
run coder-fork "$BIN/coder.test"

cleanup
SERVER_PID=""
if [[ "$FAILED" != 0 ]]; then
  echo "derp-interop: FAILED; logs kept in $LOGS"
  exit 1
fi
rm -rf "$LOGS"
echo "derp-interop: all passed"

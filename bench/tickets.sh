#!/usr/bin/env bash
# The ticket benchmark, reproducibly: `kefu-bench tickets-seed` creates a fresh SQLite data dir with
# 1,000,000 tickets and their SLA clocks (schema, categories, an SLA policy and an admin through the
# store; the tickets by set-based SQL), then a release server on it and `kefu-bench tickets`:
#   - the first page of a filtered view (status=open&priority=high&category=<a sub-category>) p95,
#   - two more views (open tickets; sla=breached),
#   - the SLA evaluation of every open ticket (`GET /api/v1/sla/overview`, one set-based statement).
#
# Tunables (environment): TICKETS=1000000 REQUESTS=500 EVALUATIONS=20 PORT=18384 OUT=<dir>
# SKIP_BUILD=1.
set -euo pipefail

TICKETS=${TICKETS:-1000000}
REQUESTS=${REQUESTS:-500}
EVALUATIONS=${EVALUATIONS:-20}
PORT=${PORT:-18384}
OUT=${OUT:-$(mktemp -d /tmp/kefu-ticket-bench.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kefu-target}
BIN=$CARGO_TARGET_DIR/release
DATA=$OUT/data
export KEFU_BENCH_PASSWORD=bench-password-42

cd "$(dirname "$0")/.."
mkdir -p "$OUT"
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release -p kefu -p kefu-bench
fi

SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$DATA"
echo "== seed $TICKETS tickets"
"$BIN/kefu-bench" tickets-seed --data-dir "$DATA" --tickets "$TICKETS"

echo "== server + kefu-bench tickets"
KEFU_LOG=warn "$BIN/kefu" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
    sleep 0.2
done
"$BIN/kefu-bench" tickets --url "http://127.0.0.1:$PORT" --requests "$REQUESTS" \
    --evaluations "$EVALUATIONS" --json-out "$OUT/tickets.json"
echo "results in $OUT"

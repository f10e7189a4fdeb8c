#!/usr/bin/env bash
# The whole benchmark session, reproducibly: build release, then for each run and each load start a
# fresh server (baseline, then kefu on a fresh temp data dir), run the load against it, stop it.
# Prints a table of medians with kefu/baseline ratios. Everything listens on 127.0.0.1 only.
#
# Tunables (environment): RUNS=3 DURATION=20s CONNECTIONS=16 HTTP_SHOPPERS=1000 WS_SHOPPERS=5000
# RATE=5000 LOADS="http ws" OUT=<dir for JSON results> SKIP_BUILD=1 BASELINE_PORT KEFU_PORT.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-16}
HTTP_SHOPPERS=${HTTP_SHOPPERS:-1000}
WS_SHOPPERS=${WS_SHOPPERS:-5000}
RATE=${RATE:-5000}
LOADS=${LOADS:-"http ws"}
BASELINE_PORT=${BASELINE_PORT:-9181}
KEFU_PORT=${KEFU_PORT:-9182}
OUT=${OUT:-$(mktemp -d /tmp/kefu-bench.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kefu-target}
BIN=$CARGO_TARGET_DIR/release

cd "$(dirname "$0")/.."
mkdir -p "$OUT"

# 5,000 shopper sockets need 5,000+ descriptors in the generator and in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((WS_SHOPPERS + 1000)) ]; then
    echo "need at least $((WS_SHOPPERS + 1000)) file descriptors (ulimit -n); have $(ulimit -n)" >&2
    exit 1
fi

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release -p kefu -p kefu-bench
fi

SERVER_PID=
TMP_DIRS=()
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # exit runs the EXIT trap: the server under test is killed too

wait_ready() { # url
    for _ in $(seq 100); do
        curl -sf -o /dev/null -X POST -H 'content-type: application/json' -d '{"shop":"demo"}' \
            "$1/api/v1/widget/sessions" && return 0
        sleep 0.2
    done
    echo "server at $1 did not come up" >&2
    return 1
}

start_server() { # baseline|kefu
    if [ "$1" = baseline ]; then
        "$BIN/kefu-bench" baseline-server --listen "127.0.0.1:$BASELINE_PORT" >"$OUT/baseline.log" 2>&1 &
        SERVER_PID=$!
        URL=http://127.0.0.1:$BASELINE_PORT
    else
        local dir
        dir=$(mktemp -d /tmp/kefu-bench-data.XXXXXX)
        TMP_DIRS+=("$dir")
        # Thousands of sockets come from 127.0.0.1 here: lift the per-address connection cap (an
        # environment variable, so binaries from before the cap run the same command).
        KEFU_MAX_CONNECTIONS_PER_ADDRESS=0 KEFU_LOG=${KEFU_LOG:-warn} "$BIN/kefu" demo --listen "127.0.0.1:$KEFU_PORT" --data-dir "$dir" \
            --sessions-per-minute 100000000 --visitor-messages-per-minute 100000000 \
            --address-messages-per-minute 100000000 >"$OUT/kefu.log" 2>&1 &
        SERVER_PID=$!
        URL=http://127.0.0.1:$KEFU_PORT
    fi
    wait_ready "$URL"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

echo "results in $OUT"
{
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "nproc: $(nproc)"
    grep MemTotal /proc/meminfo
    grep -m1 'model name' /proc/cpuinfo
    uname -sr
} | tee "$OUT/machine.txt"

for run in $(seq "$RUNS"); do
    for server in baseline kefu; do
        for load in $LOADS; do
            start_server "$server"
            echo "== run $run: $load load against $server (pid $SERVER_PID)"
            if [ "$load" = http ]; then
                timeout 300 "$BIN/kefu-bench" http --url "$URL" --shoppers "$HTTP_SHOPPERS" \
                    --connections "$CONNECTIONS" --duration "$DURATION" --server-pid "$SERVER_PID" \
                    --json-out "$OUT/$server-http-$run.json" >/dev/null
            else
                timeout 600 "$BIN/kefu-bench" ws --url "$URL" --shoppers "$WS_SHOPPERS" --rate "$RATE" \
                    --connections "$CONNECTIONS" --duration "$DURATION" --server-pid "$SERVER_PID" \
                    --json-out "$OUT/$server-ws-$run.json" >/dev/null
            fi
            stop_server
        done
    done
done

python3 - "$OUT" <<'EOF'
import json, glob, os, statistics, sys
out = sys.argv[1]
def load(server, mode):
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, f"{server}-{mode}-*.json")))]
def med(rows, f):
    vals = [f(r) for r in rows if f(r) is not None]
    return statistics.median(vals) if vals else None
def fmt(v, d=1):
    return "—" if v is None else f"{v:,.{d}f}"
lines = []
for mode, metrics in [
    ("http", [("persisted msg/s", lambda r: r["persisted_per_s"], 0, True),
              ("errors", lambda r: r["errors"], 0, False),
              ("latency p50 ms", lambda r: r["latency"]["p50_ms"], 2, False),
              ("latency p99 ms", lambda r: r["latency"]["p99_ms"], 2, False),
              ("server CPU cores", lambda r: r["server_cpu_cores"], 2, False),
              ("generator CPU cores", lambda r: r["generator_cpu_cores"], 2, False),
              ("server RSS peak MB", lambda r: r["server_rss_peak_mb"], 0, False)]),
    ("ws", [("persisted msg/s", lambda r: r["persisted_per_s"], 0, True),
            ("sent", lambda r: r["sent"], 0, False),
            ("delivered", lambda r: r["delivered"], 0, False),
            ("errors", lambda r: r["errors"], 0, False),
            ("sockets connected", lambda r: r["sockets_connected"], 0, False),
            ("delivery p50 ms", lambda r: r["delivery_latency"]["p50_ms"], 2, False),
            ("delivery p95 ms", lambda r: r["delivery_latency"]["p95_ms"], 2, False),
            ("delivery p99 ms", lambda r: r["delivery_latency"]["p99_ms"], 2, False),
            ("HTTP p99 ms", lambda r: r["http_latency"]["p99_ms"], 2, False),
            ("server CPU cores", lambda r: r["server_cpu_cores"], 2, False),
            ("server RSS after connect MB", lambda r: r["server_rss_after_connect_mb"], 0, False),
            ("server RSS peak MB", lambda r: r["server_rss_peak_mb"], 0, False)]),
]:
    b, k = load("baseline", mode), load("kefu", mode)
    if not b and not k:
        continue
    lines.append(f"\n{mode} load (median of {len(k)} kefu / {len(b)} baseline runs)\n")
    lines.append(f"| {'metric':<28} | {'baseline':>12} | {'kefu':>12} | {'kefu/baseline':>13} |")
    lines.append(f"|{'-'*30}|{'-'*14}:|{'-'*14}:|{'-'*15}:|".replace("-:", ":").replace("|-", "|-"))
    for name, f, d, ratio in metrics:
        bv, kv = med(b, f), med(k, f)
        r = f"{kv / bv:.3f}" if ratio and bv and kv is not None else ""
        lines.append(f"| {name:<28} | {fmt(bv, d):>12} | {fmt(kv, d):>12} | {r:>13} |")
    per_run = ", ".join(fmt(r["persisted_per_s"], 0) for r in k)
    lines.append(f"\nkefu persisted msg/s per run: {per_run}")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "summary.md"), "w").write(text + "\n")
EOF

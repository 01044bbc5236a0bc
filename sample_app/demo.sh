#!/bin/sh
# The README's main job: start the local OTLP receiver, run two instances of the
# unmodified sample app under otel-run, send a few requests (one crossing from the
# first service to the second), stop everything by PID and show the trace trees.
set -eu

HTTP_PORT=${DEMO_OTLP_PORT:-4318}
GRPC_PORT=${DEMO_OTLP_GRPC_PORT:-4317}
FRONT_PORT=${DEMO_FRONT_PORT:-8000}
BACK_PORT=${DEMO_BACK_PORT:-8001}
OUT=${DEMO_OUT:-$(mktemp -d)}

otel-run receive --http "127.0.0.1:$HTTP_PORT" --grpc "127.0.0.1:$GRPC_PORT" --settle 1 \
    --jsonl "$OUT/telemetry.jsonl" >"$OUT/traces.txt" 2>"$OUT/receiver.err" &
RECEIVER=$!

export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$HTTP_PORT"
export OTEL_BSP_SCHEDULE_DELAY=200 OTEL_BLRP_SCHEDULE_DELAY=200 OTEL_METRIC_EXPORT_INTERVAL=2000

OTEL_SERVICE_NAME=inventory PORT=$BACK_PORT otel-run python sample_app/app.py >"$OUT/inventory.log" 2>&1 &
BACK=$!
OTEL_SERVICE_NAME=storefront PORT=$FRONT_PORT CHAIN_URL="http://127.0.0.1:$BACK_PORT/items" \
    otel-run python sample_app/app.py >"$OUT/storefront.log" 2>&1 &
FRONT=$!

stop() { kill "$FRONT" "$BACK" 2>/dev/null || true; wait "$FRONT" "$BACK" 2>/dev/null || true; }
trap 'stop; kill "$RECEIVER" 2>/dev/null || true' EXIT

python - "$FRONT_PORT" "$BACK_PORT" <<'PY'
import sys, time, urllib.request
front, back = sys.argv[1:3]
def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        return reply.status
deadline = time.monotonic() + 30
for port in (front, back):
    while True:
        try:
            get(port, "/healthz")
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"demo: the sample app on port {port} did not start; see its log")
            time.sleep(0.2)
for path in ("/", "/items", "/chain"):
    print(f"demo: GET http://127.0.0.1:{front}{path} -> {get(front, path)}")
PY

sleep 1
stop                      # SIGTERM: otel-run flushes what is left before the apps exit
sleep 1.5                 # let the receiver's last traces settle
kill "$RECEIVER"; wait "$RECEIVER" 2>/dev/null || true
trap - EXIT

echo
echo "== startup lines =="
grep -h '^otel-run:' "$OUT/storefront.log" "$OUT/inventory.log" || true
echo
echo "== what the receiver got (otel-run receive) =="
cat "$OUT/traces.txt"
echo
echo "(all output kept in $OUT)"

#!/bin/sh
# The README's main job: start the local OTLP receiver, run two instances of the
# unmodified sample app under otel-run, send a few requests (one crossing from the
# first service to the second), stop everything by PID and show the trace trees.
#
# Ports: free ones are picked unless you name them with DEMO_OTLP_PORT (OTLP/HTTP),
# DEMO_OTLP_GRPC_PORT, DEMO_FRONT_PORT and DEMO_BACK_PORT. DEMO_OUT names the folder
# that keeps every log (default: a new temporary folder).
set -eu

free_port() { python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

HTTP_PORT=${DEMO_OTLP_PORT:-$(free_port)}
GRPC_PORT=${DEMO_OTLP_GRPC_PORT:-$(free_port)}
FRONT_PORT=${DEMO_FRONT_PORT:-$(free_port)}
BACK_PORT=${DEMO_BACK_PORT:-$(free_port)}
OUT=${DEMO_OUT:-$(mktemp -d)}

fail() {
    echo "demo: $1" >&2
    echo "demo: all output is kept in $OUT" >&2
    exit 1
}

otel-run receive --http "127.0.0.1:$HTTP_PORT" --grpc "127.0.0.1:$GRPC_PORT" --settle 1 \
    --jsonl "$OUT/telemetry.jsonl" >"$OUT/traces.txt" 2>"$OUT/receiver.err" &
RECEIVER=$!
FRONT=""
BACK=""

stop_apps() {
    for pid in $FRONT $BACK; do kill "$pid" 2>/dev/null || true; done
    for pid in $FRONT $BACK; do wait "$pid" 2>/dev/null || true; done
    FRONT=""
    BACK=""
}
stop_receiver() { kill "$RECEIVER" 2>/dev/null || true; wait "$RECEIVER" 2>/dev/null || true; }
trap 'stop_apps; stop_receiver' EXIT

# The receiver prints "listening on ..." once both ports are bound, or one line saying why not.
tries=0
until grep -q 'listening on' "$OUT/receiver.err" 2>/dev/null; do
    if ! kill -0 "$RECEIVER" 2>/dev/null; then
        cat "$OUT/receiver.err" >&2
        fail "the receiver could not start (above). Free that port, or pick others with DEMO_OTLP_PORT / DEMO_OTLP_GRPC_PORT"
    fi
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || fail "the receiver did not start within 10 s; see $OUT/receiver.err"
    sleep 0.1
done

export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$HTTP_PORT"
export OTEL_BSP_SCHEDULE_DELAY=200 OTEL_BLRP_SCHEDULE_DELAY=200 OTEL_METRIC_EXPORT_INTERVAL=2000

OTEL_SERVICE_NAME=inventory PORT=$BACK_PORT otel-run python sample_app/app.py >"$OUT/inventory.log" 2>&1 &
BACK=$!
OTEL_SERVICE_NAME=storefront PORT=$FRONT_PORT CHAIN_URL="http://127.0.0.1:$BACK_PORT/items" \
    otel-run python sample_app/app.py >"$OUT/storefront.log" 2>&1 &
FRONT=$!

if ! python - "$FRONT_PORT" "$BACK_PORT" "$OUT" <<'PY'
import sys, time, urllib.request
front, back, out = sys.argv[1:4]
def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        return reply.status
deadline = time.monotonic() + 30
for port, name in ((front, "storefront"), (back, "inventory")):
    while True:
        try:
            get(port, "/healthz")
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"demo: the sample app '{name}' did not answer on port {port}; see {out}/{name}.log")
            time.sleep(0.2)
for path in ("/", "/items", "/chain"):
    print(f"demo: GET http://127.0.0.1:{front}{path} -> {get(front, path)}")
PY
then
    fail "the sample apps did not serve (above)"
fi

sleep 1
stop_apps                 # SIGTERM: otel-run flushes what is left before the apps exit
sleep 1.5                 # let the receiver's last traces settle
stop_receiver
trap - EXIT

echo
echo "== startup lines =="
grep -h '^otel-run:' "$OUT/storefront.log" "$OUT/inventory.log" || true
echo
echo "== what the receiver got (otel-run receive) =="
cat "$OUT/traces.txt"
echo
echo "(all output kept in $OUT)"

#!/usr/bin/env bash
# The README's run command: brings up a ClickHouse store and then cormorant with
# config/examples/quickstart.yaml (OTLP in on localhost:4317/4318, SkyWalking on 11800/12800 ->
# ClickHouse).
#
# Which store:
#   - CLICKHOUSE_ENDPOINT set (e.g. http://clickhouse:8123): that server, nothing is started;
#   - else a `clickhouse` binary on PATH: a real ClickHouse server with its data in
#     /var/tmp/cormorant-clickhouse, HTTP on 127.0.0.1:8123;
#   - else the chdb-core engine behind ClickHouse's HTTP interface (deploy/clickhouse-local),
#     data in /var/tmp/cormorant-chdb, HTTP on 127.0.0.1:8123.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Answers 0 once $1/ping says "Ok.".
wait_for_ping() {
    for _ in $(seq 1 300); do
        if [ "$(curl -fsS "$1/ping" 2>/dev/null)" = "Ok." ]; then
            return 0
        fi
        sleep 0.2
    done
    echo "quickstart: no answer from $1/ping" >&2
    return 1
}

if ! command -v curl >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq curl
fi

if [ -n "${CLICKHOUSE_ENDPOINT:-}" ]; then
    echo "quickstart: using the ClickHouse server at $CLICKHOUSE_ENDPOINT"
elif command -v clickhouse >/dev/null 2>&1; then
    data=/var/tmp/cormorant-clickhouse
    mkdir -p "$data"
    if [ "$(curl -fsS http://127.0.0.1:8123/ping 2>/dev/null)" != "Ok." ]; then
        echo "quickstart: starting ClickHouse ($(command -v clickhouse)), data in $data"
        (cd "$data" && nohup clickhouse server -- --path="$data/" --listen_host=127.0.0.1 \
            --http_port=8123 --tcp_port=9000 >"$data.log" 2>&1 &)
    fi
    export CLICKHOUSE_ENDPOINT=http://127.0.0.1:8123
    wait_for_ping "$CLICKHOUSE_ENDPOINT"
else
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq python3-venv
    fi
    bash deploy/clickhouse-local/start.sh --listen 127.0.0.1:8123
    export CLICKHOUSE_ENDPOINT=http://127.0.0.1:8123
fi

cat <<MSG

  Cormorant is starting: send OTLP to localhost:4317 (gRPC) or http://localhost:4318 (HTTP).
  Everything received is stored in ClickHouse at $CLICKHOUSE_ENDPOINT, database "otel"
  (tables otel_traces, otel_logs, otel_metrics_*). Look at it with:

    curl $CLICKHOUSE_ENDPOINT --data-binary \\
      "SELECT Timestamp, ServiceName, SpanName, Duration FROM otel.otel_traces ORDER BY Timestamp DESC LIMIT 10"

MSG
exec cargo run --release -- --config config/examples/quickstart.yaml

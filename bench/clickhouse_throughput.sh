#!/usr/bin/env bash
# Cormorant ClickHouse benchmark: spans per collector CPU-second for OTLP/gRPC -> batching ->
# clickhouse encoding (against a sink that discards the inserts), rows/s into the chdb-backed
# store, and compressed bytes per span stored, next to the contrib schema's columns alone.
# See bench/README.md for what each number means.
#
# Environment (all optional):
#   BENCH_SKIP_BUILD=1              use the existing target/release binaries
#   BENCH_THROUGHPUT_SECONDS=15     length of the flat-out run against the sink
#   BENCH_WORKERS=4                 concurrent loadgen senders
#   BENCH_BATCH_SIZE=512            spans per OTLP request in the encoding run
#   BENCH_STORE_SPANS=1000000       spans sent into the store (rounded up to whole batches of
#                                   50000, in requests of 500 spans)
#   BENCH_STORE_RATE=0              spans/s offered to the store pipeline; 0 is flat out
#   BENCH_STORE_TIMEOUT=300         seconds to wait for the store to hold every span
#   BENCH_OTLP_GRPC_ENDPOINT=127.0.0.1:14317
#   BENCH_METRICS_ADDRESS=127.0.0.1:18888
#   BENCH_CLICKHOUSE_ENDPOINT=127.0.0.1:18123   where the sink, then the store, listens
#   CLICKHOUSE_LOCAL_PYTHON         a Python with deploy/clickhouse-local/requirements.txt
#   BENCH_ENFORCE_TARGETS=1         exit 1 when the throughput target is missed
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

THROUGHPUT_SECONDS=${BENCH_THROUGHPUT_SECONDS:-15}
WORKERS=${BENCH_WORKERS:-4}
BATCH=${BENCH_BATCH_SIZE:-512}
STORE_SPANS=${BENCH_STORE_SPANS:-1000000}
STORE_RATE=${BENCH_STORE_RATE:-0}
STORE_TIMEOUT=${BENCH_STORE_TIMEOUT:-300}
SPANS_PER_CPU_SECOND_TARGET=400000
# sending_queue.batch.min_size of the store config, and spans per request into the store, which
# divides it: every batch the exporter inserts is then full, and the wait for the store to hold
# every span never includes the flush timeout of a last partial batch.
STORE_BATCH_SPANS=50000
STORE_REQUEST_SPANS=500
# The exporter's batch flush_timeout in both configs plus headroom: how long the exporter may
# take to send the last partial batch after the load stops.
FLUSH_SECONDS=15
# The columns this exporter adds to contrib's otel_traces for eBPF and packet capture.
EXTRA_COLUMNS="'SpanSource','ProcessId','ProcessName','L7Protocol','RequestId','TcpSeqRequest','TcpSeqResponse'"
export BENCH_OTLP_GRPC_ENDPOINT=${BENCH_OTLP_GRPC_ENDPOINT:-127.0.0.1:14317}
export BENCH_METRICS_ADDRESS=${BENCH_METRICS_ADDRESS:-127.0.0.1:18888}
export BENCH_CLICKHOUSE_ENDPOINT=${BENCH_CLICKHOUSE_ENDPOINT:-127.0.0.1:18123}
export BENCH_CLICKHOUSE_DATABASE=cormorant_bench

SINK_CONFIG=bench/configs/otlp_grpc_clickhouse_sink.yaml
STORE_CONFIG=bench/configs/otlp_grpc_clickhouse_store.yaml
STORE_SERVER=deploy/clickhouse-local/server.py
COLLECTOR=target/release/cormorant
LOADGEN=target/release/cormorant-loadgen
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
collector_pid=""
loadgen_pid=""
sink_pid=""
store_pid=""

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

cleanup() {
    stop_process "$loadgen_pid"
    stop_process "$collector_pid"
    stop_process "$sink_pid"
    stop_process "$store_pid"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A Python that can run the store server: CLICKHOUSE_LOCAL_PYTHON, the environment start.sh
# creates, or python3 when it has the packages.
store_python() {
    local venv=deploy/clickhouse-local/.venv/bin/python
    if [[ -n "${CLICKHOUSE_LOCAL_PYTHON:-}" ]]; then
        echo "$CLICKHOUSE_LOCAL_PYTHON"
    elif [[ -x "$venv" ]] && "$venv" -c 'import chdb' 2>/dev/null; then
        echo "$venv"
    elif python3 -c 'import chdb, clickhouse_cityhash, lz4.block, zstandard' 2>/dev/null; then
        echo python3
    else
        die "no Python with deploy/clickhouse-local/requirements.txt: run deploy/clickhouse-local/start.sh once (it creates the environment), or set CLICKHOUSE_LOCAL_PYTHON"
    fi
}

# store_query SQL: runs SQL on the store and prints the result; dies with ClickHouse's message.
store_query() {
    curl -sS --fail-with-body --max-time 300 --data-binary "$1" "http://$BENCH_CLICKHOUSE_ENDPOINT/" ||
        die "the store refused: $1"
}

stored_spans() {
    store_query "SELECT count() FROM $BENCH_CLICKHOUSE_DATABASE.otel_traces"
}

# Waits until the exporter has sent or given up on every span the receiver accepted, so that
# the CPU read afterwards includes the last batch.
wait_for_exporter() {
    local accepted=$1 done_spans
    for _ in $(seq $((FLUSH_SECONDS * 10))); do
        done_spans=$(($(metric_sum otelcol_exporter_sent_spans) + $(metric_sum otelcol_exporter_send_failed_spans)))
        ((done_spans >= accepted)) && return 0
        sleep 0.1
    done
    die "the exporter sent $done_spans of $accepted spans within ${FLUSH_SECONDS} s"
}

# "matches" or "MISMATCH" for two counts that must be equal.
same_count() {
    if [[ "$1" == "$2" ]]; then echo "matches"; else echo "MISMATCH"; fi
}

command -v curl >/dev/null || die "curl is needed to read the collector's metrics and to query the store"
build_release
[[ -x "$COLLECTOR" && -x "$LOADGEN" ]] || die "missing $COLLECTOR or $LOADGEN"
STORE_PYTHON=$(store_python)
load_before=$(cut -d' ' -f1 /proc/loadavg)

# 1. Encoding cost: flat out into a sink that discards every insert.
log "encoding: ${THROUGHPUT_SECONDS}s flat out into http-sink, $WORKERS workers, $BATCH spans/request"
sink_command=("$LOADGEN" http-sink --listen "$BENCH_CLICKHOUSE_ENDPOINT")
require_free_ports "$BENCH_CLICKHOUSE_ENDPOINT"
"${sink_command[@]}" >"$WORK/sink.txt" 2>"$WORK/sink.log" &
sink_pid=$!
wait_for_port "$BENCH_CLICKHOUSE_ENDPOINT" "$sink_pid" "$WORK/sink.log"
start_collector "$SINK_CONFIG" "$BENCH_OTLP_GRPC_ENDPOINT" "$BENCH_METRICS_ADDRESS"
ticks_before=$(cpu_ticks "$collector_pid")
sink_ticks_before=$(cpu_ticks "$sink_pid")
encode_loadgen_args=(traces --otlp-endpoint "$BENCH_OTLP_GRPC_ENDPOINT" --insecure --rate 0
    --duration "${THROUGHPUT_SECONDS}s" --workers "$WORKERS" --batch-size "$BATCH")
start_loadgen "$WORK/encode.txt" "${encode_loadgen_args[@]}"
finish_loadgen "$WORK/encode.txt"
encode_accepted=$(accepted_spans)
wait_for_exporter "$encode_accepted"
ticks_after=$(cpu_ticks "$collector_pid")
sink_ticks_after=$(cpu_ticks "$sink_pid")
encode_exported=$(metric_sum otelcol_exporter_sent_spans)
encode_export_failed=$(metric_sum otelcol_exporter_send_failed_spans)
stop_collector
stop_process "$sink_pid"
sink_pid=""

encode_sent=$(summary_field sent "$WORK/encode.txt")
encode_wall=$(summary_seconds "$WORK/encode.txt")
sink_requests=$(summary_field requests "$WORK/sink.txt")
sink_bytes=$(summary_field bytes "$WORK/sink.txt")
[[ -n "$sink_requests" && -n "$sink_bytes" ]] || die "the sink printed no summary: $(cat "$WORK/sink.txt" "$WORK/sink.log")"
[[ $((ticks_after - ticks_before)) -gt 0 ]] || die "the collector used no measurable CPU"
encode_cpu=$(calc "%.3f" "($ticks_after - $ticks_before) / $CLK_TCK")
sink_cpu=$(calc "%.3f" "($sink_ticks_after - $sink_ticks_before) / $CLK_TCK")
encode_rate=$(calc "%.0f" "$encode_sent / $encode_cpu")
encode_ratio=$(calc "%.2f" "$encode_rate / $SPANS_PER_CPU_SECOND_TARGET")
encode_verdict=$(verdict "$encode_rate >= $SPANS_PER_CPU_SECOND_TARGET")
encode_cores=$(calc "%.2f" "$encode_cpu / $encode_wall")
encode_accepted_check=$(same_count "$encode_accepted" "$encode_sent")
encode_exported_check=$(same_count "$encode_exported" "$encode_sent")
wire_bytes_per_span=$(calc "%.1f" "$sink_bytes / $encode_exported")
rows_per_insert=$(calc "%.0f" "$encode_exported / $sink_requests")

# 2. Rows/s into the chdb-backed store.
store_batches=$(((STORE_SPANS + STORE_BATCH_SPANS - 1) / STORE_BATCH_SPANS))
requests=$((store_batches * STORE_BATCH_SPANS / STORE_REQUEST_SPANS))
log "store: $((requests * STORE_REQUEST_SPANS)) spans into $STORE_SERVER --ephemeral"
store_command=("$STORE_PYTHON" "$STORE_SERVER" --listen "$BENCH_CLICKHOUSE_ENDPOINT" --ephemeral --log-level warning)
require_free_ports "$BENCH_CLICKHOUSE_ENDPOINT"
"${store_command[@]}" >"$WORK/store.log" 2>&1 &
store_pid=$!
wait_for_port "$BENCH_CLICKHOUSE_ENDPOINT" "$store_pid" "$WORK/store.log"
store_version=$(store_query "SELECT version()")
start_collector "$STORE_CONFIG" "$BENCH_OTLP_GRPC_ENDPOINT" "$BENCH_METRICS_ADDRESS"
rows=$(stored_spans)
[[ "$rows" == 0 ]] || die "otel_traces holds $rows rows at the start"
ticks_before=$(cpu_ticks "$collector_pid")
store_ticks_before=$(cpu_ticks "$store_pid")
store_loadgen_args=(traces --otlp-endpoint "$BENCH_OTLP_GRPC_ENDPOINT" --insecure --rate "$STORE_RATE"
    --requests "$requests" --workers "$WORKERS" --batch-size "$STORE_REQUEST_SPANS" --allow-failures)
started=$(now_seconds)
start_loadgen "$WORK/store.txt" "${store_loadgen_args[@]}"
finish_loadgen "$WORK/store.txt"
store_sent=$(summary_field sent "$WORK/store.txt")
store_load_seconds=$(summary_seconds "$WORK/store.txt")
# Poll until every acknowledged span is a row, the exporter has given up on the rest, or the
# time runs out.
deadline=$(calc "%.0f" "$(now_seconds) + $STORE_TIMEOUT")
while true; do
    rows=$(stored_spans)
    ((rows >= store_sent)) && break
    exporter_done=$(($(metric_sum otelcol_exporter_sent_spans) + $(metric_sum otelcol_exporter_send_failed_spans)))
    if ((exporter_done >= $(accepted_spans))) && (($(metric_sum otelcol_exporter_send_failed_spans) > 0)); then
        break
    fi
    (($(date +%s) < deadline)) || die "the store holds $rows of $store_sent spans after ${STORE_TIMEOUT} s"
    kill -0 "$collector_pid" 2>/dev/null || die "the collector exited: $(cat "$WORK/collector.log")"
    sleep 0.2
done
stored_seconds=$(calc "%.2f" "$(now_seconds) - $started")
ticks_after=$(cpu_ticks "$collector_pid")
store_ticks_after=$(cpu_ticks "$store_pid")
store_accepted=$(accepted_spans)
store_refused=$(metric_sum otelcol_receiver_refused_spans)
store_exported=$(metric_sum otelcol_exporter_sent_spans)
store_export_failed=$(metric_sum otelcol_exporter_send_failed_spans)
store_enqueue_failed=$(metric_sum otelcol_exporter_enqueue_failed_spans)
store_rejected_rows=$(metric_sum cormorant_clickhouse_rejected_rows)
stop_collector
store_retried=$(summary_field retried "$WORK/store.txt")
store_failed_items=$(summary_field failed_items "$WORK/store.txt")
rows_per_second=$(calc "%.0f" "$rows / $stored_seconds")
store_collector_cpu=$(calc "%.2f" "($ticks_after - $ticks_before) / $CLK_TCK")
store_server_cpu=$(calc "%.2f" "($store_ticks_after - $store_ticks_before) / $CLK_TCK")
rows_per_store_cpu_second=$(calc "%.0f" "$rows / $store_server_cpu")
store_rows_check=$(same_count "$rows" "$store_sent")
store_accepted_check=$(same_count "$store_accepted" "$store_sent")

# 3. Bytes per span stored, after merging every part.
log "storage: OPTIMIZE ... FINAL and column sizes"
store_query "OPTIMIZE TABLE $BENCH_CLICKHOUSE_DATABASE.otel_traces FINAL" >/dev/null
store_query "OPTIMIZE TABLE $BENCH_CLICKHOUSE_DATABASE.otel_traces_trace_id_ts FINAL" >/dev/null
column_sizes=$(store_query "
    SELECT sum(data_compressed_bytes), sum(data_uncompressed_bytes),
           sumIf(data_compressed_bytes, name NOT IN ($EXTRA_COLUMNS)),
           sumIf(data_uncompressed_bytes, name NOT IN ($EXTRA_COLUMNS))
    FROM system.columns
    WHERE database = '$BENCH_CLICKHOUSE_DATABASE' AND table = 'otel_traces'
    FORMAT TSV")
read -r compressed uncompressed contrib_compressed contrib_uncompressed <<<"$column_sizes"
traces_parts=$(store_query "
    SELECT count(), sum(rows), sum(bytes_on_disk) FROM system.parts
    WHERE database = '$BENCH_CLICKHOUSE_DATABASE' AND table = 'otel_traces' AND active
    FORMAT TSV")
read -r traces_parts traces_rows traces_on_disk <<<"$traces_parts"
largest_columns=$(store_query "
    SELECT name, data_compressed_bytes FROM system.columns
    WHERE database = '$BENCH_CLICKHOUSE_DATABASE' AND table = 'otel_traces'
    ORDER BY data_compressed_bytes DESC LIMIT 5
    FORMAT TSV")
lookup_on_disk=$(store_query "
    SELECT sum(bytes_on_disk) FROM system.parts
    WHERE database = '$BENCH_CLICKHOUSE_DATABASE' AND table = 'otel_traces_trace_id_ts' AND active
    FORMAT TSV")
stop_process "$store_pid"
store_pid=""
[[ "$traces_rows" -gt 0 ]] || die "otel_traces holds no rows after OPTIMIZE"
stored_rows_check=$(same_count "$traces_rows" "$rows")
per_span() { calc "%.1f" "$1 / $traces_rows"; }
extras_compressed=$((compressed - contrib_compressed))
largest_columns=$(awk -v rows="$traces_rows" '
    { printf "%s%s %.1f", (NR > 1 ? ", " : ""), $1, $2 / rows }' <<<"$largest_columns")
load_after=$(cut -d' ' -f1 /proc/loadavg)

env_prefix=""
for variable in BENCH_THROUGHPUT_SECONDS BENCH_WORKERS BENCH_BATCH_SIZE BENCH_STORE_SPANS BENCH_STORE_RATE; do
    if [[ -n "${!variable:-}" ]]; then env_prefix+="$variable=${!variable} "; fi
done

cat <<EOF

================ Cormorant ClickHouse benchmark ================
machine: $(machine_description), load average $load_before before, $load_after after
reproduce: ${env_prefix}bench/clickhouse_throughput.sh

1. encoding: OTLP/gRPC -> clickhouse (queue batching, RowBinary, LZ4) -> http-sink (discards bodies)
   sink                               ${sink_command[*]}
   collector                          $COLLECTOR --config $SINK_CONFIG
   load                               $LOADGEN ${encode_loadgen_args[*]}
   spans accepted (loadgen)           $encode_sent in ${encode_wall} s
   otelcol_receiver_accepted_spans    $encode_accepted ($encode_accepted_check)
   otelcol_exporter_sent_spans        $encode_exported ($encode_exported_check), send_failed $encode_export_failed
   inserts received by the sink       $sink_requests ($rows_per_insert rows each), $sink_bytes bytes = $wire_bytes_per_span bytes/span on the wire
   collector CPU                      $encode_cpu s ($encode_cores cores busy); sink CPU $sink_cpu s
   spans per collector CPU-second     $encode_rate
   ratio to the target                $encode_ratio (target >= $SPANS_PER_CPU_SECOND_TARGET: $encode_verdict)

2. rows/s into the chdb-backed store (ClickHouse $store_version)
   store                              ${store_command[*]}
   collector                          $COLLECTOR --config $STORE_CONFIG
   load                               $LOADGEN ${store_loadgen_args[*]}
   spans accepted (loadgen)           $store_sent in ${store_load_seconds} s (retried $store_retried, failed $store_failed_items)
   otelcol_receiver_accepted_spans    $store_accepted ($store_accepted_check), refused $store_refused
   otelcol_exporter_sent_spans        $store_exported, send_failed $store_export_failed, enqueue_failed $store_enqueue_failed
   cormorant_clickhouse_rejected_rows $store_rejected_rows
   rows in otel_traces                $rows ($store_rows_check) after $stored_seconds s from the first request
   rows per second                    $rows_per_second
   CPU                                collector $store_collector_cpu s, store server $store_server_cpu s ($rows_per_store_cpu_second rows per store CPU-second)

3. bytes per span stored in otel_traces ($traces_rows rows ($stored_rows_check), $traces_parts part(s) after OPTIMIZE TABLE ... FINAL)
   all columns, compressed            $(per_span "$compressed") bytes/span ($compressed bytes)
   contrib's columns alone            $(per_span "$contrib_compressed") bytes/span (the contrib schema on the same data)
   eBPF extra columns                 $(calc "%.2f" "$extras_compressed / $traces_rows") bytes/span ($extras_compressed bytes)
   largest columns (bytes/span)       $largest_columns
   all columns, uncompressed          $(per_span "$uncompressed") bytes/span (contrib's columns: $(per_span "$contrib_uncompressed"))
   on disk with marks and indexes     $(per_span "$traces_on_disk") bytes/span; otel_traces_trace_id_ts adds $(per_span "$lookup_on_disk")
=================================================================
EOF

for check in "$encode_accepted_check" "$encode_exported_check" "$store_accepted_check" \
    "$store_rows_check" "$stored_rows_check"; do
    [[ "$check" == matches ]] || die "counts disagree (see MISMATCH above)"
done
if [[ "$encode_verdict" == MISSED && "${BENCH_ENFORCE_TARGETS:-0}" == 1 ]]; then
    die "targets missed"
fi

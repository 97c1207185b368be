#!/usr/bin/env bash
# Cormorant OTLP/gRPC benchmark: spans per collector CPU-second, the ratio to the
# single-core prost decode limit, and steady-state memory at 10k spans/s.
# See bench/README.md for what each number means and the reference values.
#
# Environment (all optional):
#   BENCH_SKIP_BUILD=1             use the existing target/release binaries
#   BENCH_COLLECTOR=PATH           benchmark another collector binary with the same config
#                                  (e.g. otelcol-contrib, for a side-by-side comparison)
#   BENCH_THROUGHPUT_SECONDS=15    length of the flat-out run
#   BENCH_WORKERS=4                concurrent loadgen senders in the flat-out run
#   BENCH_BATCH_SIZE=512           spans per request in the flat-out run and decode bench
#   BENCH_MEMORY_SECONDS=30        length of the 10k spans/s run
#   BENCH_OTLP_GRPC_ENDPOINT=127.0.0.1:14317
#   BENCH_METRICS_ADDRESS=127.0.0.1:18888
#   BENCH_ENFORCE_TARGETS=1        exit 1 when a target is missed
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

THROUGHPUT_SECONDS=${BENCH_THROUGHPUT_SECONDS:-15}
THROUGHPUT_WORKERS=${BENCH_WORKERS:-4}
THROUGHPUT_BATCH=${BENCH_BATCH_SIZE:-512}
MEMORY_SECONDS=${BENCH_MEMORY_SECONDS:-30}
MEMORY_WARMUP_SECONDS=5
MEMORY_RATE=10000
MEMORY_BATCH=100
DECODE_RATIO_TARGET=0.50
RSS_TARGET_MIB=25
export BENCH_OTLP_GRPC_ENDPOINT=${BENCH_OTLP_GRPC_ENDPOINT:-127.0.0.1:14317}
export BENCH_METRICS_ADDRESS=${BENCH_METRICS_ADDRESS:-127.0.0.1:18888}

CONFIG=bench/configs/otlp_grpc_nop.yaml
COLLECTOR=${BENCH_COLLECTOR:-target/release/cormorant}
LOADGEN=target/release/cormorant-loadgen
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
collector_pid=""
loadgen_pid=""

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

cleanup() {
    stop_process "$loadgen_pid"
    stop_process "$collector_pid"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v curl >/dev/null || die "curl is needed to read the collector's metrics"
counts_mismatch=0

build_release
[[ -x "$COLLECTOR" && -x "$LOADGEN" ]] || die "missing $COLLECTOR or $LOADGEN"

# 1. Throughput: flat out, CPU seconds of the collector process only.
log "throughput: ${THROUGHPUT_SECONDS}s flat out, $THROUGHPUT_WORKERS workers, $THROUGHPUT_BATCH spans/request"
start_collector "$CONFIG" "$BENCH_OTLP_GRPC_ENDPOINT" "$BENCH_METRICS_ADDRESS"
accepted_before=$(accepted_spans)
ticks_before=$(cpu_ticks "$collector_pid")
start_loadgen "$WORK/throughput.txt" traces --otlp-endpoint "$BENCH_OTLP_GRPC_ENDPOINT" --insecure \
    --rate 0 --duration "${THROUGHPUT_SECONDS}s" --workers "$THROUGHPUT_WORKERS" --batch-size "$THROUGHPUT_BATCH"
finish_loadgen "$WORK/throughput.txt"
# Let the batch processor flush its last batch so its CPU is counted too.
sleep 1
ticks_after=$(cpu_ticks "$collector_pid")
accepted_after=$(accepted_spans)
stop_collector

sent_spans=$(summary_field sent "$WORK/throughput.txt")
wall_seconds=$(summary_seconds "$WORK/throughput.txt")
accepted_spans_metric=$((accepted_after - accepted_before))
cpu_seconds=$(calc "%.3f" "($ticks_after - $ticks_before) / $CLK_TCK")
[[ $((ticks_after - ticks_before)) -gt 0 ]] || die "the collector used no measurable CPU"
spans_per_cpu_second=$(calc "%.0f" "$sent_spans / $cpu_seconds")
collector_cores=$(calc "%.2f" "$cpu_seconds / $wall_seconds")
if [[ "$accepted_spans_metric" == "$sent_spans" ]]; then
    count_check="matches"
else
    count_check="MISMATCH"
    counts_mismatch=1
fi

# 2. Decode limit: one thread decoding the same payload, nothing else running.
log "decode limit: prost decode of the same $THROUGHPUT_BATCH-span request on one thread"
start_loadgen "$WORK/decode.txt" decode-bench --batch-size "$THROUGHPUT_BATCH" --bench-duration 2s
finish_loadgen "$WORK/decode.txt"
decode_spans_per_second=$(sed -n 's/^decode: \([0-9]*\) spans\/s.*/\1/p' "$WORK/decode.txt")
decode_mb_per_second=$(sed -n 's/.*spans\/s, \([0-9.]*\) MB\/s.*/\1/p' "$WORK/decode.txt")
decode_ratio=$(calc "%.2f" "$spans_per_cpu_second / $decode_spans_per_second")
decode_verdict=$(verdict "$decode_ratio >= $DECODE_RATIO_TARGET")

# 3. Memory: steady 10k spans/s, RSS sampled every second after the warm-up.
log "memory: ${MEMORY_SECONDS}s at $MEMORY_RATE spans/s, $MEMORY_BATCH spans/request"
start_collector "$CONFIG" "$BENCH_OTLP_GRPC_ENDPOINT" "$BENCH_METRICS_ADDRESS"
idle_rss_kib=$(rss_kib "$collector_pid")
start_loadgen "$WORK/memory.txt" traces --otlp-endpoint "$BENCH_OTLP_GRPC_ENDPOINT" --insecure \
    --rate "$MEMORY_RATE" --duration "${MEMORY_SECONDS}s" --workers 1 --batch-size "$MEMORY_BATCH"
sleep "$MEMORY_WARMUP_SECONDS"
rss_samples=()
sample_ticks_before=$(cpu_ticks "$collector_pid")
sample_started=$(now_seconds)
while kill -0 "$loadgen_pid" 2>/dev/null; do
    kill -0 "$collector_pid" 2>/dev/null || die "the collector exited during the memory run"
    rss_samples+=("$(rss_kib "$collector_pid")")
    sleep 1
done
sample_ticks_after=$(cpu_ticks "$collector_pid")
sample_seconds=$(calc "%.3f" "$(now_seconds) - $sample_started")
finish_loadgen "$WORK/memory.txt"
stop_collector
((${#rss_samples[@]} > 0)) || die "no RSS samples: the memory run ended within the warm-up"

rss_stats=$(printf '%s\n' "${rss_samples[@]}" |
    awk '{ sum += $1; if ($1 > max) max = $1 } END { printf "%.1f %.1f %d", sum / NR / 1024, max / 1024, NR }')
read -r rss_avg_mib rss_max_mib rss_sample_count <<<"$rss_stats"
idle_rss_mib=$(calc "%.1f" "$idle_rss_kib / 1024")
memory_cpu_percent=$(calc "%.2f" "100 * ($sample_ticks_after - $sample_ticks_before) / $CLK_TCK / $sample_seconds")
memory_sent=$(summary_field sent "$WORK/memory.txt")
rss_verdict=$(verdict "$rss_avg_mib <= $RSS_TARGET_MIB")

cat <<EOF

================ Cormorant OTLP/gRPC benchmark ================
machine: $(machine_description)
collector: $COLLECTOR
pipeline: otlp (gRPC) -> batch -> nop, config $CONFIG

1. throughput (${THROUGHPUT_SECONDS} s flat out, $THROUGHPUT_WORKERS workers, $THROUGHPUT_BATCH spans/request)
   spans accepted (loadgen)           $sent_spans in ${wall_seconds} s
   otelcol_receiver_accepted_spans    $accepted_spans_metric ($count_check)
   collector CPU                      $cpu_seconds s ($collector_cores cores busy)
   spans per collector CPU-second     $spans_per_cpu_second
2. decode limit (1 thread, prost + mimalloc, same request)
   decode                             $decode_spans_per_second spans/s, $decode_mb_per_second MB/s
   collector / decode limit           $decode_ratio (target >= $DECODE_RATIO_TARGET: $decode_verdict)
3. memory ($MEMORY_RATE spans/s, $MEMORY_BATCH spans/request, ${MEMORY_SECONDS} s, $rss_sample_count samples after ${MEMORY_WARMUP_SECONDS} s)
   spans accepted (loadgen)           $memory_sent
   RSS idle                           $idle_rss_mib MiB
   RSS average / max                  $rss_avg_mib / $rss_max_mib MiB (target average <= $RSS_TARGET_MIB MiB: $rss_verdict)
   collector CPU                      $memory_cpu_percent % of one core

reference (bench/README.md, shared/reference/performance.md):
   otelcol Trace10kSPS OTLP-gRPC      6.80 % CPU, RSS 66 / 94 MiB avg / max
   Rotel   Trace10kSPS OTLP-gRPC      5.57 % CPU, RSS 19 / 28 MiB avg / max
   prost decode, small spans, 512/req 1.59 M spans/s (mimalloc) on the reference VM
================================================================
EOF

if ((counts_mismatch)); then
    die "the loadgen and the collector disagree on accepted spans ($sent_spans vs $accepted_spans_metric)"
fi
if [[ "$decode_verdict" == MISSED || "$rss_verdict" == MISSED ]] && [[ "${BENCH_ENFORCE_TARGETS:-0}" == 1 ]]; then
    die "targets missed"
fi

#!/usr/bin/env bash
# Cormorant remote_write benchmark: samples per collector CPU-second for Prometheus remote_write
# 1.0 (Alloy-shaped: 2000 one-sample series per request) through the integration receiver into
# the clickhouse exporter's encoder (against a sink that discards the inserts), beside a real
# Prometheus (2.42, --web.enable-remote-write-receiver) receiving the very same requests in the
# same run. See bench/README.md for what each number means.
#
# Environment (all optional):
#   BENCH_SKIP_BUILD=1              use the existing target/release binaries
#   BENCH_SECONDS=20                length of the measured run
#   BENCH_WORKERS=4                 concurrent loadgen senders (Alloy's shards); each sends
#                                   every request to both receivers at once
#   BENCH_SERIES=100000             distinct series, sent round after round
#   BENCH_SERIES_PER_REQUEST=2000   Alloy's max_samples_per_send
#   BENCH_RATE=0                    samples/s offered to both; 0 is as fast as the slower answers
#   BENCH_PROMETHEUS=/usr/bin/prometheus   the Prometheus binary (installed with apt-get when
#                                   missing and the script runs as root)
#   BENCH_REMOTE_WRITE_ENDPOINT=127.0.0.1:18086   the collector's integration receiver
#   BENCH_METRICS_ADDRESS=127.0.0.1:18888         the collector's self-metrics
#   BENCH_CLICKHOUSE_ENDPOINT=127.0.0.1:18123     the sink
#   BENCH_PROMETHEUS_ADDRESS=127.0.0.1:19090      Prometheus
#   BENCH_ENFORCE_TARGETS=1         exit 1 when the ratio target is missed
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SECONDS_RUN=${BENCH_SECONDS:-20}
WORKERS=${BENCH_WORKERS:-4}
SERIES=${BENCH_SERIES:-100000}
SERIES_PER_REQUEST=${BENCH_SERIES_PER_REQUEST:-2000}
RATE=${BENCH_RATE:-0}
PROMETHEUS=${BENCH_PROMETHEUS:-/usr/bin/prometheus}
# Cormorant must turn remote_write samples into stored rows for at most a third of the CPU
# Prometheus spends appending them to its head block.
RATIO_TARGET=3
# The exporter's batch flush_timeout in the config plus headroom: how long the exporter may take
# to send the last partial batch after the load stops.
FLUSH_SECONDS=15
export BENCH_REMOTE_WRITE_ENDPOINT=${BENCH_REMOTE_WRITE_ENDPOINT:-127.0.0.1:18086}
export BENCH_METRICS_ADDRESS=${BENCH_METRICS_ADDRESS:-127.0.0.1:18888}
export BENCH_CLICKHOUSE_ENDPOINT=${BENCH_CLICKHOUSE_ENDPOINT:-127.0.0.1:18123}
PROMETHEUS_ADDRESS=${BENCH_PROMETHEUS_ADDRESS:-127.0.0.1:19090}

CONFIG=bench/configs/remote_write.yaml
COLLECTOR=target/release/cormorant
LOADGEN=target/release/cormorant-loadgen
CORMORANT_URL="http://$BENCH_REMOTE_WRITE_ENDPOINT/api/v1/prometheus"
PROMETHEUS_URL="http://$PROMETHEUS_ADDRESS/api/v1/write"
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
collector_pid=""
loadgen_pid=""
sink_pid=""
prometheus_pid=""

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

cleanup() {
    stop_process "$loadgen_pid"
    stop_process "$collector_pid"
    stop_process "$sink_pid"
    stop_process "$prometheus_pid"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prometheus from Debian's package when it is missing (the package ships 2.42 on bookworm).
ensure_prometheus() {
    [[ -x "$PROMETHEUS" ]] && return 0
    [[ "$PROMETHEUS" == /usr/bin/prometheus && $(id -u) == 0 ]] ||
        die "$PROMETHEUS is missing: install Prometheus 2.42 (apt-get install prometheus) or set BENCH_PROMETHEUS"
    log "installing Prometheus: apt-get install -y prometheus"
    DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus >&2 ||
        die "apt-get install prometheus failed"
    [[ -x "$PROMETHEUS" ]] || die "apt-get installed no $PROMETHEUS"
}

# A Prometheus with no scrape jobs, so every sample in its head came through remote_write.
start_prometheus() {
    require_free_ports "$PROMETHEUS_ADDRESS"
    printf 'global:\n  scrape_interval: 15s\nscrape_configs: []\n' >"$WORK/prometheus.yml"
    mkdir "$WORK/tsdb"
    "$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
        --web.listen-address="$PROMETHEUS_ADDRESS" --web.enable-remote-write-receiver \
        --log.level=warn >"$WORK/prometheus.log" 2>&1 &
    prometheus_pid=$!
    wait_for_port "$PROMETHEUS_ADDRESS" "$prometheus_pid" "$WORK/prometheus.log"
    for _ in $(seq 300); do
        curl -fsS "http://$PROMETHEUS_ADDRESS/-/ready" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$WORK/prometheus.log" >&2
    die "Prometheus is not ready after 30 s"
}

# The sum of metric NAME over its label sets, from the collector or from Prometheus.
collector_metric() { metric_sum "$1"; }
prometheus_metric() { BENCH_METRICS_ADDRESS=$PROMETHEUS_ADDRESS metric_sum "$1"; }

# Waits until the exporter has sent or given up on every point the receiver accepted, so that
# the CPU read afterwards includes the last batch.
wait_for_exporter() {
    local accepted=$1 done_points=0
    for _ in $(seq $((FLUSH_SECONDS * 10))); do
        done_points=$(($(collector_metric otelcol_exporter_sent_metric_points) +
            $(collector_metric otelcol_exporter_send_failed_metric_points)))
        ((done_points >= accepted)) && return 0
        sleep 0.1
    done
    die "the exporter sent $done_points of $accepted points within ${FLUSH_SECONDS} s"
}

# target_field URL KEY FILE: a count from the loadgen's `target URL key=N ...` line.
target_field() {
    awk -v url="$1" -v key="$2" '
        $1 == "target" && $2 == url {
            for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] }
        }' "$3"
}

same_count() {
    if [[ "$1" == "$2" ]]; then echo "matches"; else echo "MISMATCH"; fi
}

# The state letter of a process (R, S, D, Z, ...), or X once it is gone.
process_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo X
        return
    }
    stat=${stat##*) }
    echo "${stat%% *}"
}

kib_to_mib() { calc "%.1f" "$1 / 1024"; }

peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

command -v curl >/dev/null || die "curl is needed to read the receivers' metrics"
ensure_prometheus
build_release
[[ -x "$COLLECTOR" && -x "$LOADGEN" ]] || die "missing $COLLECTOR or $LOADGEN"
prometheus_version=$("$PROMETHEUS" --version 2>&1 | head -1)
[[ "$prometheus_version" == *"version 2.42."* ]] ||
    log "warning: the reference is Prometheus 2.42; this is $prometheus_version"
load_before=$(cut -d' ' -f1 /proc/loadavg)

log "starting http-sink, the collector ($CONFIG) and Prometheus"
sink_command=("$LOADGEN" http-sink --listen "$BENCH_CLICKHOUSE_ENDPOINT")
require_free_ports "$BENCH_CLICKHOUSE_ENDPOINT"
"${sink_command[@]}" >"$WORK/sink.txt" 2>"$WORK/sink.log" &
sink_pid=$!
wait_for_port "$BENCH_CLICKHOUSE_ENDPOINT" "$sink_pid" "$WORK/sink.log"
start_collector "$CONFIG" "$BENCH_REMOTE_WRITE_ENDPOINT" "$BENCH_METRICS_ADDRESS"
start_prometheus

common_args=(remote-write --url "$CORMORANT_URL" --url "$PROMETHEUS_URL" --series "$SERIES"
    --series-per-request "$SERIES_PER_REQUEST" --workers "$WORKERS")
# Warm-up: one round over every series, so both receivers have created their series (Prometheus'
# head allocates memory series on first sight) before the measured run; that run then shows
# the steady state, in which the same series receive new samples.
warmup_requests=$(((SERIES + SERIES_PER_REQUEST - 1) / SERIES_PER_REQUEST))
log "warm-up: $warmup_requests requests ($SERIES series) to both receivers"
start_loadgen "$WORK/warmup.txt" "${common_args[@]}" --requests "$warmup_requests"
finish_loadgen "$WORK/warmup.txt"
wait_for_exporter "$(collector_metric otelcol_receiver_accepted_metric_points)"

log "measured run: ${SECONDS_RUN}s, $WORKERS workers, rate $RATE samples/s, to both receivers"
collector_accepted_before=$(collector_metric otelcol_receiver_accepted_metric_points)
collector_refused_before=$(collector_metric otelcol_receiver_refused_metric_points)
prometheus_appended_before=$(prometheus_metric prometheus_tsdb_head_samples_appended_total)
collector_ticks_before=$(cpu_ticks "$collector_pid")
prometheus_ticks_before=$(cpu_ticks "$prometheus_pid")
sink_ticks_before=$(cpu_ticks "$sink_pid")
loadgen_args=("${common_args[@]}" --rate "$RATE" --duration "${SECONDS_RUN}s" --allow-failures)
start_loadgen "$WORK/run.txt" "${loadgen_args[@]}"
loadgen_started_pid=$loadgen_pid
# The generator's own CPU, sampled until it exits (so it misses at most the last 0.2 s): it
# shares the machine with both receivers.
loadgen_ticks=0
while [[ "$(process_state "$loadgen_started_pid")" != [ZX] ]]; do
    ticks=$(cpu_ticks "$loadgen_started_pid" 2>/dev/null || echo 0)
    ((ticks <= loadgen_ticks)) || loadgen_ticks=$ticks
    sleep 0.2
done
finish_loadgen "$WORK/run.txt"
prometheus_ticks_after=$(cpu_ticks "$prometheus_pid")
prometheus_appended_after=$(prometheus_metric prometheus_tsdb_head_samples_appended_total)
collector_accepted_after=$(collector_metric otelcol_receiver_accepted_metric_points)
wait_for_exporter "$collector_accepted_after"
collector_ticks_after=$(cpu_ticks "$collector_pid")
sink_ticks_after=$(cpu_ticks "$sink_pid")
collector_refused_after=$(collector_metric otelcol_receiver_refused_metric_points)
exporter_sent=$(collector_metric otelcol_exporter_sent_metric_points)
exporter_failed=$(collector_metric otelcol_exporter_send_failed_metric_points)
collector_rss=$(rss_kib "$collector_pid")
collector_peak_rss=$(peak_rss_kib "$collector_pid")
prometheus_rss=$(rss_kib "$prometheus_pid")
prometheus_peak_rss=$(peak_rss_kib "$prometheus_pid")
prometheus_series=$(prometheus_metric prometheus_tsdb_head_series)
stop_collector
stop_process "$sink_pid"
sink_pid=""
stop_process "$prometheus_pid"
prometheus_pid=""
load_after=$(cut -d' ' -f1 /proc/loadavg)

samples_sent=$(target_field "$CORMORANT_URL" samples_sent "$WORK/run.txt")
[[ -n "$samples_sent" ]] || die "the loadgen printed no summary: $(cat "$WORK/run.txt")"
run_seconds=$(sed -n 's/.* samples in \([0-9.]*\)s .*/\1/p' "$WORK/run.txt")
cormorant_samples_accepted=$(target_field "$CORMORANT_URL" samples_accepted "$WORK/run.txt")
prometheus_samples_accepted=$(target_field "$PROMETHEUS_URL" samples_accepted "$WORK/run.txt")
# refused (429/5xx) / rejected (other 4xx) / transport errors, in requests.
failures() {
    local url=$1
    echo "$(target_field "$url" refused_requests "$WORK/run.txt")/$(target_field "$url" rejected_requests "$WORK/run.txt")/$(target_field "$url" transport_errors "$WORK/run.txt")"
}
cormorant_failures=$(failures "$CORMORANT_URL")
prometheus_failures=$(failures "$PROMETHEUS_URL")
[[ $((collector_ticks_after - collector_ticks_before)) -gt 0 ]] || die "the collector used no measurable CPU"
[[ $((prometheus_ticks_after - prometheus_ticks_before)) -gt 0 ]] || die "Prometheus used no measurable CPU"
collector_accepted=$((collector_accepted_after - collector_accepted_before))
collector_refused=$((collector_refused_after - collector_refused_before))
prometheus_appended=$((prometheus_appended_after - prometheus_appended_before))
collector_cpu=$(calc "%.3f" "($collector_ticks_after - $collector_ticks_before) / $CLK_TCK")
prometheus_cpu=$(calc "%.3f" "($prometheus_ticks_after - $prometheus_ticks_before) / $CLK_TCK")
sink_cpu=$(calc "%.3f" "($sink_ticks_after - $sink_ticks_before) / $CLK_TCK")
loadgen_cpu=$(calc "%.3f" "$loadgen_ticks / $CLK_TCK")
collector_rate=$(calc "%.0f" "$collector_accepted / $collector_cpu")
prometheus_rate=$(calc "%.0f" "$prometheus_appended / $prometheus_cpu")
ratio=$(calc "%.2f" "$collector_rate / $prometheus_rate")
ratio_verdict=$(verdict "$ratio >= $RATIO_TARGET")
collector_cores=$(calc "%.2f" "$collector_cpu / $run_seconds")
prometheus_cores=$(calc "%.2f" "$prometheus_cpu / $run_seconds")
collector_check=$(same_count "$collector_accepted" "$cormorant_samples_accepted")
prometheus_check=$(same_count "$prometheus_appended" "$prometheus_samples_accepted")
sink_requests=$(summary_field requests "$WORK/sink.txt")
sink_bytes=$(summary_field bytes "$WORK/sink.txt")

env_prefix=""
for variable in BENCH_SECONDS BENCH_WORKERS BENCH_SERIES BENCH_SERIES_PER_REQUEST BENCH_RATE BENCH_PROMETHEUS; do
    if [[ -n "${!variable:-}" ]]; then env_prefix+="$variable=${!variable} "; fi
done

cat <<EOF

================ Cormorant remote_write benchmark (vs Prometheus) ================
machine: $(machine_description), load average $load_before before, $load_after after
reproduce: ${env_prefix}bench/prometheus_remote_write.sh
cormorant  $COLLECTOR --config $CONFIG  (integration receiver -> clickhouse exporter -> ${sink_command[*]})
prometheus $PROMETHEUS --web.enable-remote-write-receiver, no scrape jobs  ($prometheus_version)
load       $LOADGEN ${loadgen_args[*]}
           (after a warm-up round of $warmup_requests requests over all $SERIES series)

samples sent to each receiver      $samples_sent in $run_seconds s ($(calc "%.0f" "$samples_sent / $run_seconds")/s)
                                   cormorant                prometheus
samples accepted (loadgen)         $(printf '%-24s %s' "$cormorant_samples_accepted" "$prometheus_samples_accepted")
samples accepted (own counter)     $(printf '%-24s %s' "$collector_accepted" "$prometheus_appended")   ($collector_check / $prometheus_check)
refused (429/5xx) / rejected / errors   $(printf '%-19s %s' "$cormorant_failures" "$prometheus_failures") requests
CPU seconds                        $(printf '%-24s %s' "$collector_cpu ($collector_cores cores)" "$prometheus_cpu ($prometheus_cores cores)")
samples per CPU-second             $(printf '%-24s %s' "$collector_rate" "$prometheus_rate")
RSS now / peak (MiB)               $(printf '%-24s %s' "$(kib_to_mib "$collector_rss") / $(kib_to_mib "$collector_peak_rss")" "$(kib_to_mib "$prometheus_rss") / $(kib_to_mib "$prometheus_peak_rss")")
cormorant: otelcol_receiver_refused_metric_points $collector_refused; exporter sent $exporter_sent points, send_failed $exporter_failed; sink got $sink_requests inserts, $sink_bytes bytes
prometheus: prometheus_tsdb_head_series $prometheus_series
others' CPU: loadgen $loadgen_cpu s, sink $sink_cpu s

ratio cormorant / prometheus       $ratio (target >= $RATIO_TARGET: $ratio_verdict)
===================================================================================
EOF

[[ "$collector_check" == matches && "$prometheus_check" == matches ]] ||
    die "counts disagree (see MISMATCH above)"
if [[ "$ratio_verdict" == MISSED && "${BENCH_ENFORCE_TARGETS:-0}" == 1 ]]; then
    die "target missed"
fi

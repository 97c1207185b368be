#!/usr/bin/env bash
# Cormorant eBPF receiver overhead: wrk -> nginx gateway -> nginx backend on loopback.
#   1. saturation throughput without and with the receiver (target: <= 2 % loss), with every
#      process sharing all CPUs; with BENCH_PIN=1 also with the workload and the collector on
#      separate CPUs, which leaves only the in-kernel probe cost in the loss; with
#      BENCH_FLOOR=1 also with empty programs (bpftrace) on the receiver's tracepoints, the
#      floor any capture through those tracepoints pays;
#   2. a paced 10k requests/s: spans captured vs requests sent (target: 100 %), events lost,
#      the collector's CPU (target: <= 0.1 core) and memory, and the nginx workers' CPU
#      without and with the receiver (the in-kernel probe cost is charged to them).
# See bench/README.md for what each number means.
#
# Needs root (the receiver loads eBPF programs; nginx and wrk are installed with apt-get when
# missing). Environment (all optional):
#   BENCH_SKIP_BUILD=1             use the existing target/release/cormorant
#   BENCH_COLLECTOR=PATH           another collector binary with the same config
#   BENCH_BASELINE_ONLY=1          run nginx and wrk without the collector (checks the harness;
#                                  needs no root when nginx and wrk are installed)
#   BENCH_ROUNDS=2                 saturation rounds (each: without, then with the receiver)
#   BENCH_PIN=1                    each round also runs pinned: wrk and both nginx on
#                                  BENCH_WORKLOAD_CPUS, the collector on BENCH_COLLECTOR_CPUS
#   BENCH_FLOOR=1                  each round (and pinned round) also runs with empty bpftrace
#                                  programs on the tracepoints of the receiver's object
#   BENCH_WORKLOAD_CPUS=0-(N-2)    taskset CPU list of the pinned workload (N = CPUs available)
#   BENCH_COLLECTOR_CPUS=N-1       taskset CPU list of the pinned collector
#   BENCH_SATURATION_SECONDS=20    length of each saturation run
#   BENCH_WARMUP_SECONDS=3         unmeasured wrk run before each saturation run
#   BENCH_WRK_THREADS=2            wrk threads (both phases)
#   BENCH_WRK_CONNECTIONS=32       wrk connections in the saturation runs
#   BENCH_RATE=10000               paced requests/s in phase 2
#   BENCH_PACED_SECONDS=20         length of the paced runs
#   BENCH_PACED_CONNECTIONS=64     wrk connections in the paced runs
#   BENCH_PACED_ROUNDS=3           paced runs with the receiver (fresh collector each); the
#                                  CPU verdict is on their median
#   BENCH_SETTLE_SECONDS=40        longest wait for the last spans after a paced run
#   BENCH_GATEWAY_PORT=18480  BENCH_BACKEND_PORT=18481
#   BENCH_GATEWAY_STATUS_PORT=18482  BENCH_BACKEND_STATUS_PORT=18483
#   BENCH_METRICS_ADDRESS=127.0.0.1:18889
#   BENCH_ENFORCE_TARGETS=1        exit 1 when a target is missed
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUNDS=${BENCH_ROUNDS:-2}
SATURATION_SECONDS=${BENCH_SATURATION_SECONDS:-20}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-3}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-32}
PACED_RATE=${BENCH_RATE:-10000}
PACED_SECONDS=${BENCH_PACED_SECONDS:-20}
PACED_CONNECTIONS=${BENCH_PACED_CONNECTIONS:-64}
PACED_ROUNDS=${BENCH_PACED_ROUNDS:-3}
SETTLE_SECONDS=${BENCH_SETTLE_SECONDS:-40}
BASELINE_ONLY=${BENCH_BASELINE_ONLY:-0}
PIN=${BENCH_PIN:-0}
FLOOR=${BENCH_FLOOR:-0}
CPU_COUNT=$(nproc)
if ((CPU_COUNT > 2)); then
    WORKLOAD_CPUS=${BENCH_WORKLOAD_CPUS:-0-$((CPU_COUNT - 2))}
else
    WORKLOAD_CPUS=${BENCH_WORKLOAD_CPUS:-0}
fi
COLLECTOR_CPUS=${BENCH_COLLECTOR_CPUS:-$((CPU_COUNT - 1))}
export BENCH_GATEWAY_PORT=${BENCH_GATEWAY_PORT:-18480}
export BENCH_BACKEND_PORT=${BENCH_BACKEND_PORT:-18481}
GATEWAY_STATUS_PORT=${BENCH_GATEWAY_STATUS_PORT:-18482}
BACKEND_STATUS_PORT=${BENCH_BACKEND_STATUS_PORT:-18483}
export BENCH_METRICS_ADDRESS=${BENCH_METRICS_ADDRESS:-127.0.0.1:18889}

LOSS_TARGET_PERCENT=2
CAPTURE_TARGET_PERCENT=100
CPU_TARGET_CORES=0.1
# Spans per proxied request: the gateway's SERVER span (wrk -> gateway) and CLIENT span
# (gateway -> backend), and the backend's SERVER span.
SPANS_PER_REQUEST=3
# Paced runs that fall more than this short of BENCH_RATE are reported as such.
PACING_TOLERANCE=0.98

CONFIG=bench/configs/ebpf_nop.yaml
# The receiver's compiled programs; their section names name the tracepoints they attach to.
OBJECT=ebpf/bpf/socket_trace.bpf.o
PACER=bench/configs/wrk_paced.lua
COLLECTOR=${BENCH_COLLECTOR:-target/release/cormorant}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
GATEWAY_URL="http://127.0.0.1:$BENCH_GATEWAY_PORT/api/v1/items"
collector_pid=""
gateway_pid=""
backend_pid=""
wrk_pid=""
floor_pid=""
# CPU list wrk runs on (taskset); empty: wherever the scheduler puts it.
wrk_cpus=""
bpf_stats_were=""

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

cleanup() {
    [[ -z "$bpf_stats_were" ]] || sysctl -qw "kernel.bpf_stats_enabled=$bpf_stats_were"
    stop_process "$wrk_pid"
    stop_process "$floor_pid"
    stop_process "$collector_pid"
    stop_process "$gateway_pid"
    stop_process "$backend_pid"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Installs Debian package PACKAGE when COMMAND is missing and the script runs as root.
ensure_command() {
    local command=$1 package=$2
    command -v "$command" >/dev/null && return 0
    [[ $(id -u) == 0 ]] || die "$command is missing: apt-get install $package (or run this script as root)"
    log "installing $package: apt-get install -y $package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$package" >&2 ||
        die "apt-get install $package failed (run apt-get update first?)"
    command -v "$command" >/dev/null || die "apt-get installed no $command"
}

# start_nginx NAME TEMPLATE PORT: an nginx with its own prefix $WORK/NAME, from a template in
# bench/configs; echoes the master's pid once PORT accepts connections.
start_nginx() {
    local prefix="$WORK/$1" template=$2 port=$3 pid
    mkdir -p "$prefix"
    sed -e "s#@PREFIX@#$prefix#g" \
        -e "s/@GATEWAY_PORT@/$BENCH_GATEWAY_PORT/g" \
        -e "s/@BACKEND_PORT@/$BENCH_BACKEND_PORT/g" \
        -e "s/@GATEWAY_STATUS_PORT@/$GATEWAY_STATUS_PORT/g" \
        -e "s/@BACKEND_STATUS_PORT@/$BACKEND_STATUS_PORT/g" \
        "$template" >"$prefix/nginx.conf"
    nginx -t -q -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >&2 ||
        die "nginx rejected $prefix/nginx.conf (from $template)"
    nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$prefix/stdout.log" 2>&1 &
    pid=$!
    wait_for_port "127.0.0.1:$port" "$pid" "$prefix/error.log"
    echo "$pid"
}

# pin_nginx CPUS: moves both nginx masters and their workers, every thread, onto CPUS.
pin_nginx() {
    local process
    for process in "$gateway_pid" "$backend_pid" $(pgrep -P "$gateway_pid") $(pgrep -P "$backend_pid"); do
        taskset -a -p -c "$1" "$process" >/dev/null || die "taskset could not pin nginx process $process to CPUs $1"
    done
}

# CPU ticks of the worker processes of the nginx masters given as arguments.
nginx_worker_ticks() {
    local master worker total=0
    for master in "$@"; do
        for worker in $(pgrep -P "$master"); do
            total=$((total + $(cpu_ticks "$worker")))
        done
    done
    echo "$total"
}

# Requests an nginx has handled, from its stub_status page. The page counts the request that
# reads it, so a difference of two readings is one more than the requests in between.
nginx_requests() {
    curl -fsS "http://127.0.0.1:$1/" | awk 'NR == 3 { print $3 }'
}

# metric_value NAME: the sum of NAME (with or without `_total`) over its label sets, or nothing
# when the collector does not export it.
metric_value() {
    curl -fsS "http://$BENCH_METRICS_ADDRESS/metrics" |
        awk -v name="$1" '
            index($0, name) == 1 {
                rest = substr($0, length(name) + 1)
                sub(/^_total/, "", rest)
                if (rest ~ /^[{ ]/) { sum += $NF; found = 1 }
            }
            END { if (found) printf "%.0f\n", sum }'
}

# difference AFTER BEFORE, or "n/a" when either reading is missing.
difference() {
    if [[ -n "$1" && -n "$2" ]]; then echo $(($1 - $2)); else echo "n/a"; fi
}

# Ids of the tracepoint programs loaded in the kernel.
tracepoint_program_ids() {
    bpftool prog show | awk '/^[0-9]+: tracepoint / { sub(":", "", $1); print $1 }' | sort
}

# bpf_run_time IDS...: "NANOSECONDS RUNS" summed over the programs, as counted while
# kernel.bpf_stats_enabled is 1.
bpf_run_time() {
    local id
    for id in "$@"; do
        bpftool prog show id "$id"
    done | awk '{
        for (i = 1; i < NF; i++) {
            if ($i == "run_time_ns") ns += $(i + 1)
            if ($i == "run_cnt") runs += $(i + 1)
        }
    } END { printf "%.0f %.0f\n", ns, runs }'
}

# run_wrk OUTFILE ARGS...: wrk in the background (so a signal interrupts `wait`), dies on failure.
run_wrk() {
    local out=$1
    shift
    if [[ -n "$wrk_cpus" ]]; then
        taskset -c "$wrk_cpus" wrk "$@" >"$out" 2>&1 &
    else
        wrk "$@" >"$out" 2>&1 &
    fi
    wrk_pid=$!
    wait "$wrk_pid" || die "wrk failed: $(cat "$out")"
    wrk_pid=""
    grep -q 'requests in' "$out" || die "wrk printed no summary: $(cat "$out")"
}

wrk_requests() { sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$1"; }

# wrk's own measured duration in seconds ("20.00s", or "1.00m" past a minute).
wrk_seconds() {
    sed -n 's/.* requests in \([0-9.]*\)\([a-z]*\),.*/\1 \2/p' "$1" |
        awk '{ print ($2 == "m") ? $1 * 60 : ($2 == "h") ? $1 * 3600 : ($2 == "ms") ? $1 / 1000 : $1 }'
}

wrk_rate() { awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' "$1"; }

# A latency percentile of `wrk --latency` (e.g. 99) in milliseconds.
wrk_latency_ms() {
    awk -v p="$2%" '$1 == p && NF == 2 {
        v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
        printf "%.3f\n", (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v
    }' "$1"
}

# Socket errors and non-2xx responses that wrk saw, or "none".
wrk_errors() {
    local errors
    errors=$(grep -E 'Socket errors|Non-2xx' "$1" | sed 's/^ *//' | paste -sd ';' -)
    echo "${errors:-none}"
}

# Proof that the receiver is attached and sees the benchmark's nginx: 5 requests through the
# gateway must yield their 15 spans. The metrics endpoint can answer before the tracer is
# attached, so the requests are sent again every 3 s, for up to 30 s.
check_capture() {
    local before after
    before=$(metric_value otelcol_receiver_accepted_spans)
    before=${before:-0}
    for _ in $(seq 10); do
        for _ in 1 2 3 4 5; do
            curl -fsS -o /dev/null "$GATEWAY_URL" || die "the gateway did not answer curl"
        done
        for _ in $(seq 30); do
            after=$(metric_value otelcol_receiver_accepted_spans)
            if ((${after:-0} - before >= 5 * SPANS_PER_REQUEST)); then
                sleep 1
                return 0
            fi
            kill -0 "$collector_pid" 2>/dev/null || {
                cat "$WORK/collector.log" >&2
                die "the collector exited"
            }
            sleep 0.1
        done
    done
    cat "$WORK/collector.log" >&2
    die "the ebpf receiver captured $((${after:-0} - before)) spans in 30 s of requests through nginx (expected at least $((5 * SPANS_PER_REQUEST)))"
}

start_capturing_collector() {
    start_collector "$CONFIG" "$BENCH_METRICS_ADDRESS"
    check_capture
}

# wait_for_spans EXPECTED BEFORE: polls the accepted-span count until it reaches BEFORE +
# EXPECTED or BENCH_SETTLE_SECONDS pass. The requests wrk cut off when it stopped have no
# response; the receiver emits them when their connection closes or when it stops waiting for
# the response (30 s), so the default wait is longer than that.
wait_for_spans() {
    local expected=$1 before=$2 current
    for _ in $(seq $((SETTLE_SECONDS * 5))); do
        current=$(metric_value otelcol_receiver_accepted_spans)
        ((${current:-0} - before >= expected)) && return 0
        sleep 0.2
    done
}

if [[ "$BASELINE_ONLY" != 1 && $(id -u) != 0 ]]; then
    die "the ebpf receiver needs root (or CAP_BPF + CAP_PERFMON) to load its programs: run as root (sudo bench/ebpf_overhead.sh), or BENCH_BASELINE_ONLY=1 to run nginx and wrk alone"
fi
[[ -r /proc/self/stat ]] || die "this benchmark needs Linux /proc"
ensure_command curl curl
ensure_command nginx nginx
ensure_command wrk wrk
ensure_command pgrep procps
if [[ "$PIN" == 1 ]]; then
    ensure_command taskset util-linux
    ((CPU_COUNT >= 2)) || die "BENCH_PIN=1 needs at least 2 CPUs (this machine offers $CPU_COUNT)"
    # The CPUs this script may use: nginx returns to them after the pinned runs.
    ALL_CPUS=$(taskset -p -c $$ | sed 's/.*: *//')
fi
[[ "$BASELINE_ONLY" == 1 ]] || ensure_command bpftool bpftool
if [[ "$FLOOR" == 1 && "$BASELINE_ONLY" != 1 ]]; then
    ensure_command bpftrace bpftrace
    ensure_command readelf binutils
fi
require_free_ports "127.0.0.1:$BENCH_GATEWAY_PORT" "127.0.0.1:$BENCH_BACKEND_PORT" \
    "127.0.0.1:$GATEWAY_STATUS_PORT" "127.0.0.1:$BACKEND_STATUS_PORT"

if [[ "$BASELINE_ONLY" != 1 ]]; then
    if [[ "${BENCH_SKIP_BUILD:-0}" != 1 && -z "${BENCH_COLLECTOR:-}" ]]; then
        log "building the release collector"
        cargo build --release -p cormorant
    fi
    [[ -x "$COLLECTOR" ]] || die "missing $COLLECTOR"
fi

backend_pid=$(start_nginx backend bench/configs/ebpf_nginx_backend.conf "$BENCH_BACKEND_PORT")
gateway_pid=$(start_nginx gateway bench/configs/ebpf_nginx_gateway.conf "$BENCH_GATEWAY_PORT")
curl -fsS "$GATEWAY_URL" | grep -qx ok || die "the gateway does not proxy to the backend"

# 1. Saturation: alternate runs without and with the receiver, each after a short warm-up.
saturation_run() {
    local out=$1
    run_wrk "$WORK/warmup.txt" -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WARMUP_SECONDS}s" "$GATEWAY_URL"
    run_wrk "$out" --latency -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${SATURATION_SECONDS}s" "$GATEWAY_URL"
}

# The tracepoints the receiver attaches to, as bpftrace probes (tracepoint:syscalls:sys_enter_read).
receiver_tracepoints() {
    readelf -S --wide "$OBJECT" | grep -o 'tracepoint/[a-z0-9_]*/[a-z0-9_]*' | sort -u | sed 's#/#:#g'
}

# Attaches empty programs to every tracepoint the receiver uses: what remains of the loss is
# the kernel's cost of running any program there (the syscall slow path, the tracepoint and
# program dispatch), which no capture through these tracepoints can avoid.
start_floor_programs() {
    local probes waited=0
    probes=$(receiver_tracepoints | paste -sd, -)
    [[ -n "$probes" ]] || die "$OBJECT names no tracepoint section"
    bpftrace -e "$probes { }" >"$WORK/bpftrace.log" 2>&1 &
    floor_pid=$!
    until grep -q '^Attaching' "$WORK/bpftrace.log"; do
        kill -0 "$floor_pid" 2>/dev/null || die "bpftrace failed: $(cat "$WORK/bpftrace.log")"
        ((waited++ < 300)) || die "bpftrace did not attach within 30 s"
        sleep 0.1
    done
    # bpftrace prints "Attaching N probes..." before it attaches them; let it finish.
    sleep 2
}

# saturation_round MODE ROUND: one run without and one with the receiver, in MODE ("shared":
# every process on every CPU; "pinned": the workload on WORKLOAD_CPUS, the collector on
# COLLECTOR_CPUS). Appends the runs' lines to saturation_lines_MODE and their rates to
# baseline_rates_MODE and ebpf_rates_MODE; with BENCH_FLOOR=1 also runs with empty programs
# on the receiver's tracepoints and appends that rate to floor_rates_MODE.
saturation_round() {
    local mode=$1 round=$2 rate ticks_before ticks_after lost_before lost_after started elapsed
    local -n lines=saturation_lines_$mode baseline=baseline_rates_$mode ebpf=ebpf_rates_$mode floor=floor_rates_$mode
    log "saturation round $round/$ROUNDS ($mode) without the receiver: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${SATURATION_SECONDS}s"
    saturation_run "$WORK/base-$mode-$round.txt"
    rate=$(wrk_rate "$WORK/base-$mode-$round.txt")
    baseline+=("$rate")
    lines+=("$(printf '   round %d without receiver      %8s req/s  p50 %s ms  p99 %s ms  errors: %s' "$round" "$rate" \
        "$(wrk_latency_ms "$WORK/base-$mode-$round.txt" 50)" "$(wrk_latency_ms "$WORK/base-$mode-$round.txt" 99)" \
        "$(wrk_errors "$WORK/base-$mode-$round.txt")")")
    [[ "$BASELINE_ONLY" == 1 ]] && return 0

    log "saturation round $round/$ROUNDS ($mode) with the receiver"
    start_capturing_collector
    if [[ "$mode" == pinned ]]; then
        taskset -a -p -c "$COLLECTOR_CPUS" "$collector_pid" >/dev/null ||
            die "taskset could not pin the collector to CPUs $COLLECTOR_CPUS"
    fi
    ticks_before=$(cpu_ticks "$collector_pid")
    lost_before=$(metric_value cormorant_ebpf_lost_events)
    started=$(now_seconds)
    saturation_run "$WORK/ebpf-$mode-$round.txt"
    ticks_after=$(cpu_ticks "$collector_pid")
    elapsed=$(calc "%.3f" "$(now_seconds) - $started")
    lost_after=$(metric_value cormorant_ebpf_lost_events)
    stop_collector
    rate=$(wrk_rate "$WORK/ebpf-$mode-$round.txt")
    ebpf+=("$rate")
    lines+=("$(printf '   round %d with receiver         %8s req/s  p50 %s ms  p99 %s ms  errors: %s' "$round" "$rate" \
        "$(wrk_latency_ms "$WORK/ebpf-$mode-$round.txt" 50)" "$(wrk_latency_ms "$WORK/ebpf-$mode-$round.txt" 99)" \
        "$(wrk_errors "$WORK/ebpf-$mode-$round.txt")")")
    lines+=("$(printf '           collector %s cores (warm-up included), events lost %s' \
        "$(calc "%.2f" "($ticks_after - $ticks_before) / $CLK_TCK / $elapsed")" "$(difference "$lost_after" "$lost_before")")")
    [[ "$FLOOR" == 1 ]] || return 0

    log "saturation round $round/$ROUNDS ($mode) with empty programs on the receiver's tracepoints"
    start_floor_programs
    saturation_run "$WORK/floor-$mode-$round.txt"
    stop_process "$floor_pid"
    floor_pid=""
    rate=$(wrk_rate "$WORK/floor-$mode-$round.txt")
    floor+=("$rate")
    lines+=("$(printf '   round %d with empty programs   %8s req/s  p50 %s ms  p99 %s ms  errors: %s' "$round" "$rate" \
        "$(wrk_latency_ms "$WORK/floor-$mode-$round.txt" 50)" "$(wrk_latency_ms "$WORK/floor-$mode-$round.txt" 99)" \
        "$(wrk_errors "$WORK/floor-$mode-$round.txt")")")
}

saturation_lines_shared=()
baseline_rates_shared=()
ebpf_rates_shared=()
saturation_lines_pinned=()
baseline_rates_pinned=()
ebpf_rates_pinned=()
floor_rates_shared=()
floor_rates_pinned=()
for round in $(seq "$ROUNDS"); do
    saturation_round shared "$round"
    [[ "$PIN" == 1 ]] || continue
    pin_nginx "$WORKLOAD_CPUS"
    wrk_cpus=$WORKLOAD_CPUS
    saturation_round pinned "$round"
    wrk_cpus=""
    pin_nginx "$ALL_CPUS"
done

mean() { printf '%s\n' "$@" | awk '{ sum += $1 } END { printf "%.0f\n", sum / NR }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# floor_report BASELINE_MEAN RECEIVER_LOSS RATE...: the loss of the empty-program runs (RATE...)
# and how much of the receiver's loss lies above it.
floor_report() {
    local baseline_rate=$1 receiver_loss=$2 floor_mean floor_loss
    shift 2
    floor_mean=$(mean "$@")
    floor_loss=$(calc "%.2f" "100 * (1 - $floor_mean / $baseline_rate)")
    cat <<EOF
   mean with empty programs           $floor_mean req/s, empty programs on the $(receiver_tracepoints | wc -l) tracepoints of $OBJECT
   throughput loss, empty programs    $floor_loss %: the floor of any capture through these tracepoints here
   receiver's loss above the floor    $(calc "%.2f" "$receiver_loss - $floor_loss") points
EOF
}
baseline_mean=$(mean "${baseline_rates_shared[@]}")

# 2. Paced load: first nginx alone, then with the receiver, at the same rate.
paced_run() {
    local out=$1
    run_wrk "$out" -t "$WRK_THREADS" -c "$PACED_CONNECTIONS" -d "${PACED_SECONDS}s" -s "$PACER" \
        "$GATEWAY_URL" -- "$PACED_RATE" "$WRK_THREADS"
}

log "paced without the receiver: $PACED_RATE req/s for ${PACED_SECONDS}s"
nginx_ticks_before=$(nginx_worker_ticks "$gateway_pid" "$backend_pid")
started=$(now_seconds)
paced_run "$WORK/paced-base.txt"
nginx_ticks_after=$(nginx_worker_ticks "$gateway_pid" "$backend_pid")
base_paced_wall=$(calc "%.3f" "$(now_seconds) - $started")
base_paced_rate=$(calc "%.0f" "$(wrk_requests "$WORK/paced-base.txt") / $(wrk_seconds "$WORK/paced-base.txt")")
base_nginx_cores=$(calc "%.3f" "($nginx_ticks_after - $nginx_ticks_before) / $CLK_TCK / $base_paced_wall")

# paced_receiver_round ROUND: one paced run with a fresh collector. Sets the run's figures
# (the report prints the last round's) and adds its line, CPU and capture outcome.
paced_receiver_round() {
    local round=$1
    log "paced with the receiver, round $round/$PACED_ROUNDS: $PACED_RATE req/s for ${PACED_SECONDS}s"
    programs_before=$(tracepoint_program_ids)
    start_capturing_collector
    # The receiver's programs are the tracepoint programs that appeared with the collector.
    mapfile -t receiver_programs < <(comm -13 <(echo "$programs_before") <(tracepoint_program_ids))
    ((${#receiver_programs[@]} > 0)) || die "bpftool lists no tracepoint program loaded by the collector"
    bpf_stats_were=$(sysctl -n kernel.bpf_stats_enabled)
    sysctl -qw kernel.bpf_stats_enabled=1
    idle_rss_kib=$(rss_kib "$collector_pid")
    gateway_before=$(nginx_requests "$GATEWAY_STATUS_PORT")
    backend_before=$(nginx_requests "$BACKEND_STATUS_PORT")
    accepted_before=$(metric_value otelcol_receiver_accepted_spans)
    spans_before=$(metric_value cormorant_ebpf_spans)
    events_before=$(metric_value cormorant_ebpf_events)
    lost_before=$(metric_value cormorant_ebpf_lost_events)
    parse_errors_before=$(metric_value cormorant_ebpf_parse_errors)
    ticks_before=$(cpu_ticks "$collector_pid")
    nginx_ticks_before=$(nginx_worker_ticks "$gateway_pid" "$backend_pid")
    read -r bpf_ns_before bpf_runs_before < <(bpf_run_time "${receiver_programs[@]}")
    started=$(now_seconds)
    paced_run "$WORK/paced-ebpf.txt"
    ticks_after=$(cpu_ticks "$collector_pid")
    nginx_ticks_after=$(nginx_worker_ticks "$gateway_pid" "$backend_pid")
    paced_wall=$(calc "%.3f" "$(now_seconds) - $started")
    read -r bpf_ns_after bpf_runs_after < <(bpf_run_time "${receiver_programs[@]}")
    sysctl -qw "kernel.bpf_stats_enabled=$bpf_stats_were"
    bpf_stats_were=""
    gateway_requests=$(($(nginx_requests "$GATEWAY_STATUS_PORT") - gateway_before - 1))
    backend_requests=$(($(nginx_requests "$BACKEND_STATUS_PORT") - backend_before - 1))
    expected_spans=$((2 * gateway_requests + backend_requests))
    settle_started=$(now_seconds)
    wait_for_spans "$expected_spans" "$accepted_before"
    settle_seconds=$(calc "%.1f" "$(now_seconds) - $settle_started")
    accepted_spans=$(difference "$(metric_value otelcol_receiver_accepted_spans)" "$accepted_before")
    receiver_spans=$(difference "$(metric_value cormorant_ebpf_spans)" "$spans_before")
    events=$(difference "$(metric_value cormorant_ebpf_events)" "$events_before")
    lost_events=$(difference "$(metric_value cormorant_ebpf_lost_events)" "$lost_before")
    parse_errors=$(difference "$(metric_value cormorant_ebpf_parse_errors)" "$parse_errors_before")
    rss_now_kib=$(rss_kib "$collector_pid")
    rss_peak_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$collector_pid/status")
    stop_collector

    sent_requests=$(wrk_requests "$WORK/paced-ebpf.txt")
    paced_seconds=$(wrk_seconds "$WORK/paced-ebpf.txt")
    paced_rate=$(calc "%.0f" "$sent_requests / $paced_seconds")
    collector_cores=$(calc "%.3f" "($ticks_after - $ticks_before) / $CLK_TCK / $paced_wall")
    ebpf_nginx_cores=$(calc "%.3f" "($nginx_ticks_after - $nginx_ticks_before) / $CLK_TCK / $paced_wall")
    capture_percent=$(calc "%.3f" "100 * $accepted_spans / $expected_spans")
    bpf_seconds=$(calc "%.3f" "($bpf_ns_after - $bpf_ns_before) / 1e9")
    bpf_runs=$((bpf_runs_after - bpf_runs_before))
    bpf_cores=$(calc "%.3f" "$bpf_seconds / $paced_wall")
    bpf_us_per_request=$(calc "%.1f" "$bpf_seconds * 1e6 / $gateway_requests")
    bpf_ns_per_run=$(calc "%.0f" "($bpf_ns_after - $bpf_ns_before) / ($bpf_runs > 0 ? $bpf_runs : 1)")
    events_per_request=n/a
    [[ "$events" == n/a ]] || events_per_request=$(calc "%.1f" "$events / $gateway_requests")
    round_cores+=("$collector_cores")
    [[ "$accepted_spans" == "$expected_spans" && "$lost_events" == 0 ]] || all_captured=0
    paced_lines+=("$(printf '   round %-28d collector %s cores, %s of %s spans, %s events lost' \
        "$round" "$collector_cores" "$accepted_spans" "$expected_spans" "$lost_events")")
}

if [[ "$BASELINE_ONLY" != 1 ]]; then
    # One paced run's collector CPU moves by more than the margin to the target on a shared
    # VM, so the run is repeated with a fresh collector and the verdict taken on the median.
    paced_lines=()
    round_cores=()
    all_captured=1
    for ((round = 1; round <= PACED_ROUNDS; round++)); do
        paced_receiver_round "$round"
    done
    collector_cores=$(median "${round_cores[@]}")

    ebpf_mean=$(mean "${ebpf_rates_shared[@]}")
    loss_percent=$(calc "%.2f" "100 * (1 - $ebpf_mean / $baseline_mean)")
    loss_verdict=$(verdict "$loss_percent <= $LOSS_TARGET_PERCENT")
    pinned_verdict=met
    if [[ "$PIN" == 1 ]]; then
        pinned_baseline_mean=$(mean "${baseline_rates_pinned[@]}")
        pinned_ebpf_mean=$(mean "${ebpf_rates_pinned[@]}")
        pinned_loss_percent=$(calc "%.2f" "100 * (1 - $pinned_ebpf_mean / $pinned_baseline_mean)")
        pinned_verdict=$(verdict "$pinned_loss_percent <= $LOSS_TARGET_PERCENT")
    fi
    if ((all_captured)); then
        capture_verdict=met
    elif ((accepted_spans > expected_spans)); then
        capture_verdict="MISSED (more spans than the requests explain)"
    else
        capture_verdict=MISSED
    fi
    cpu_verdict=$(verdict "$collector_cores <= $CPU_TARGET_CORES")
    pacing_verdict=$(verdict "$paced_rate >= $PACED_RATE * $PACING_TOLERANCE")
    pacing_note="(target $PACED_RATE: reached)"
    [[ "$pacing_verdict" == met ]] ||
        pacing_note="(target $PACED_RATE: SHORT, so the figures below are for a lower rate)"
fi

cat <<EOF

================ Cormorant eBPF receiver overhead ================
machine: $(machine_description), kernel $(uname -r)
load: wrk -> nginx gateway :$BENCH_GATEWAY_PORT (1 worker, keep-alive upstream) -> nginx backend :$BENCH_BACKEND_PORT (1 worker, fixed 200)
EOF
if [[ "$BASELINE_ONLY" == 1 ]]; then
    cat <<EOF
collector: none (BENCH_BASELINE_ONLY=1)

1. saturation, shared CPUs (wrk -t$WRK_THREADS -c$WRK_CONNECTIONS, ${SATURATION_SECONDS} s per run after ${WARMUP_SECONDS} s warm-up)
$(printf '%s\n' "${saturation_lines_shared[@]}")
   mean without receiver              $baseline_mean req/s
EOF
    if [[ "$PIN" == 1 ]]; then
        cat <<EOF
1b. saturation, pinned: wrk and both nginx on CPUs $WORKLOAD_CPUS
$(printf '%s\n' "${saturation_lines_pinned[@]}")
   mean without receiver              $(mean "${baseline_rates_pinned[@]}") req/s
EOF
    fi
    cat <<EOF
2. paced ($PACED_RATE req/s, $PACED_CONNECTIONS connections, ${PACED_SECONDS} s)
   achieved rate                      $base_paced_rate req/s
   nginx workers CPU                  $base_nginx_cores cores
==================================================================
EOF
    exit 0
fi
cat <<EOF
collector: $COLLECTOR, config $CONFIG (ebpf receiver, comm nginx, gateway and backend ports -> nop)

1. saturation, shared CPUs: wrk, both nginx and the collector on all $CPU_COUNT CPUs (wrk -t$WRK_THREADS -c$WRK_CONNECTIONS, ${SATURATION_SECONDS} s per run after ${WARMUP_SECONDS} s warm-up)
$(printf '%s\n' "${saturation_lines_shared[@]}")
   mean without / with receiver       $baseline_mean / $ebpf_mean req/s
   throughput loss, shared CPUs       $loss_percent % (target <= $LOSS_TARGET_PERCENT %: $loss_verdict): in-kernel probe cost + collector competing for the CPUs
EOF
[[ "$FLOOR" != 1 ]] || floor_report "$baseline_mean" "$loss_percent" "${floor_rates_shared[@]}"
if [[ "$PIN" == 1 ]]; then
    cat <<EOF
1b. saturation, pinned: wrk and both nginx on CPUs $WORKLOAD_CPUS, the collector on CPUs $COLLECTOR_CPUS (same wrk settings)
$(printf '%s\n' "${saturation_lines_pinned[@]}")
   mean without / with receiver       $pinned_baseline_mean / $pinned_ebpf_mean req/s
   throughput loss, pinned            $pinned_loss_percent % (target <= $LOSS_TARGET_PERCENT %: $pinned_verdict): in-kernel probe cost only
   collector's share of the loss      $(calc "%.2f" "$loss_percent - $pinned_loss_percent") points (shared minus pinned)
EOF
    [[ "$FLOOR" != 1 ]] || floor_report "$pinned_baseline_mean" "$pinned_loss_percent" "${floor_rates_pinned[@]}"
fi
cat <<EOF
2. paced ($PACED_RATE req/s, $PACED_CONNECTIONS connections, ${PACED_SECONDS} s; $PACED_ROUNDS rounds with the receiver, details of the last)
$(printf '%s\n' "${paced_lines[@]}")
   requests sent (wrk, completed)     $sent_requests in $paced_seconds s = $paced_rate req/s $pacing_note
   requests handled (stub_status)     gateway $gateway_requests, backend $backend_requests ($((gateway_requests - sent_requests)) still in flight when wrk stopped)
   spans expected                     $expected_spans (2 per gateway request: SERVER + CLIENT; 1 per backend request)
   spans captured                     $accepted_spans (otelcol_receiver_accepted_spans, read $settle_seconds s after wrk stopped); receiver count $receiver_spans (cormorant_ebpf_spans_total)
   captured / expected                $capture_percent % (target $CAPTURE_TARGET_PERCENT % with 0 events lost in every round: $capture_verdict)
   events lost                        $lost_events (cormorant_ebpf_lost_events_total)
   events read                        $events ($events_per_request per gateway request, all traced processes)
   parse errors                       $parse_errors
   collector CPU, median of rounds    $collector_cores cores (target <= $CPU_TARGET_CORES: $cpu_verdict)
   collector RSS idle / end / peak    $(calc "%.1f" "$idle_rss_kib / 1024") / $(calc "%.1f" "$rss_now_kib / 1024") / $(calc "%.1f" "$rss_peak_kib / 1024") MiB
   nginx workers CPU without / with   $base_nginx_cores / $ebpf_nginx_cores cores (without: $base_paced_rate req/s achieved)
   eBPF programs run time             $bpf_seconds s = $bpf_cores cores, $bpf_runs runs, $bpf_ns_per_run ns/run, $bpf_us_per_request us per gateway request

reference (shared/reference/performance.md §6):
   Beyla   0.4-1.2 % CPU with tracing, 75-120 MB, ~500 ns per request
   Coroot  ~200 millicores at 10k RPS
   DeepFlow 90K RPS HTTP within 1 core / 1 GB
==================================================================
EOF

if [[ "${BENCH_ENFORCE_TARGETS:-0}" == 1 ]] &&
    [[ "$loss_verdict" != met || "$pinned_verdict" != met || "$capture_verdict" != met || "$cpu_verdict" != met || "$pacing_verdict" != met ]]; then
    die "targets missed"
fi

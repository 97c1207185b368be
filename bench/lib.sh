# shellcheck shell=bash
# Shell functions shared by the benchmark scripts in bench/. Source it; it defines functions
# only and runs nothing.
#
# The process helpers follow one convention: the sourcing script sets COLLECTOR (the binary),
# LOADGEN (cormorant-loadgen) and WORK (a scratch directory it removes on exit), and keeps the
# process ids in collector_pid and loadgen_pid, which these functions set and clear, so that its
# EXIT trap can stop whatever still runs.

log() { printf '==> %s\n' "$*" >&2; }

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# SIGTERM, up to 10 s to exit, then SIGKILL. Does nothing for an empty or finished pid.
stop_process() {
    local pid=$1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

port_open() {
    local host=${1%:*} port=${1##*:}
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# Dies when something already listens on any of the host:port arguments.
require_free_ports() {
    local address
    for address in "$@"; do
        ! port_open "$address" || die "something already listens on $address; set BENCH_* to other ports"
    done
}

# wait_for_port ADDRESS PID LOGFILE: waits up to 30 s until ADDRESS accepts TCP connections,
# failing early (with the process's log) if PID exits first.
wait_for_port() {
    local address=$1 pid=$2 logfile=$3
    for _ in $(seq 300); do
        port_open "$address" && return 0
        kill -0 "$pid" 2>/dev/null || {
            cat "$logfile" >&2
            die "process $pid exited before listening on $address"
        }
        sleep 0.1
    done
    cat "$logfile" >&2
    die "nothing listens on $address after 30 s"
}

# start_collector CONFIG ADDRESS...: runs $COLLECTOR with CONFIG (log in $WORK/collector.log),
# sets collector_pid, and waits until it listens on every ADDRESS.
start_collector() {
    local config=$1 address
    shift
    require_free_ports "$@"
    "$COLLECTOR" --config "$config" >"$WORK/collector.log" 2>&1 &
    collector_pid=$!
    for address in "$@"; do
        wait_for_port "$address" "$collector_pid" "$WORK/collector.log"
    done
}

stop_collector() {
    stop_process "$collector_pid"
    collector_pid=""
}

# start_loadgen OUTFILE ARGS...: runs $LOADGEN ARGS in the background, so that a signal to the
# script interrupts `wait` at once and the trap stops both processes. Sets loadgen_pid.
start_loadgen() {
    local out=$1
    shift
    "$LOADGEN" "$@" >"$out" &
    loadgen_pid=$!
}

# finish_loadgen OUTFILE: waits for the load generator, dies if it failed, echoes its summary
# to stderr.
finish_loadgen() {
    wait "$loadgen_pid" || die "loadgen failed: $(cat "$1")"
    loadgen_pid=""
    cat "$1" >&2
}

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat; the
# command name in field 2 may contain spaces, so fields are counted after its ')').
cpu_ticks() {
    local stat rest
    stat=$(<"/proc/$1/stat")
    rest=${stat##*) }
    read -r -a fields <<<"$rest"
    echo $((fields[11] + fields[12]))
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# metric_sum NAME: the sum of Prometheus metric NAME (with or without the `_total` suffix) over
# all its label sets, read from the collector's self-metrics on $BENCH_METRICS_ADDRESS.
metric_sum() {
    curl -fsS "http://$BENCH_METRICS_ADDRESS/metrics" |
        awk -v name="$1" '
            index($0, name) == 1 {
                rest = substr($0, length(name) + 1)
                sub(/^_total/, "", rest)
                if (rest ~ /^[{ ]/) sum += $NF
            }
            END { printf "%.0f\n", sum }'
}

accepted_spans() { metric_sum otelcol_receiver_accepted_spans; }

# The number after `key=` in a summary line of the load generator or the sink.
summary_field() {
    sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" "$2"
}

# The seconds of a loadgen summary (`sent=N items in 15.00s ...`).
summary_seconds() {
    sed -n 's/.* items in \([0-9.]*\)s .*/\1/p' "$1"
}

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# "met" or "MISSED" for an awk condition.
verdict() {
    if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "MISSED"; fi
}

machine_description() {
    echo "$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
}

now_seconds() { date +%s.%N; }

# build_release: `cargo build --release` of the collector (unless BENCH_COLLECTOR names another
# binary) and the load generator, skipped with BENCH_SKIP_BUILD=1.
build_release() {
    if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
        return 0
    fi
    log "building release binaries"
    if [[ -n "${BENCH_COLLECTOR:-}" ]]; then
        cargo build --release -p cormorant-loadgen
    else
        cargo build --release -p cormorant -p cormorant-loadgen
    fi
}

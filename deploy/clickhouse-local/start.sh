#!/usr/bin/env bash
# Starts the chdb-backed ClickHouse HTTP server in the background and waits until it answers
# /ping. Creates its Python environment on first use (and again when requirements.txt changes).
#
#   deploy/clickhouse-local/start.sh [--listen HOST:PORT] [--path DIR] [other server.py options]
#
# Defaults: --listen 127.0.0.1:8123, --path /var/tmp/cormorant-chdb. The server's log goes to
# DIR.log and its process id to DIR.pid; deploy/clickhouse-local/stop.sh stops it.
# Environment: CLICKHOUSE_LOCAL_PYTHON, a Python that already has requirements.txt installed
# (no environment is created then); CLICKHOUSE_LOCAL_VENV, where to create the environment
# (default deploy/clickhouse-local/.venv); PYTHON, the interpreter to create it with (python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LISTEN="127.0.0.1:8123"
DATA="/var/tmp/cormorant-chdb"
PASSTHROUGH=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --listen) LISTEN="$2"; shift 2 ;;
        --listen=*) LISTEN="${1#*=}"; shift ;;
        --path) DATA="$2"; shift 2 ;;
        --path=*) DATA="${1#*=}"; shift ;;
        -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) PASSTHROUGH+=("$1"); shift ;;
    esac
done
DATA="$(mkdir -p "$DATA" && cd "$DATA" && pwd)"
LOG="$DATA.log"
PIDFILE="$DATA.pid"

# A Python that can run server.py.
if [ -n "${CLICKHOUSE_LOCAL_PYTHON:-}" ]; then
    PY="$CLICKHOUSE_LOCAL_PYTHON"
else
    VENV="${CLICKHOUSE_LOCAL_VENV:-$HERE/.venv}"
    if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        if ! "${PYTHON:-python3}" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            echo "start.sh: ${PYTHON:-python3} cannot create virtual environments (on Debian: apt-get install python3-venv)" >&2
            exit 1
        fi
        echo "start.sh: creating $VENV"
        "${PYTHON:-python3}" -m venv --clear "$VENV"
    fi
    stamp="$VENV/.requirements.sha256"
    wanted="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
        echo "start.sh: installing $HERE/requirements.txt (chdb-core is a large download the first time)"
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$HERE/requirements.txt"
        echo "$wanted" >"$stamp"
    fi
    PY="$VENV/bin/python"
fi

# Answers 0 when the server at $LISTEN says "Ok." to /ping.
ping_ok() {
    "$PY" - "$LISTEN" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
host, _, port = sys.argv[1].rpartition(":")
host = host.strip("[]") or "127.0.0.1"
if host in ("0.0.0.0", "::"):
    host = "127.0.0.1"
url = f"http://[{host}]:{port}/ping" if ":" in host else f"http://{host}:{port}/ping"
with urllib.request.urlopen(url, timeout=2) as response:
    sys.exit(0 if response.read() == b"Ok.\n" else 1)
EOF
}

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && ping_ok; then
    echo "start.sh: already running on http://$LISTEN (pid $(cat "$PIDFILE"), data in $DATA)"
    exit 0
fi

nohup "$PY" "$HERE/server.py" --listen "$LISTEN" --path "$DATA" ${PASSTHROUGH[@]+"${PASSTHROUGH[@]}"} >>"$LOG" 2>&1 &
pid=$!
echo "$pid" >"$PIDFILE"

for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start.sh: the server exited at start; the end of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        rm -f "$PIDFILE"
        exit 1
    fi
    if ping_ok; then
        echo "start.sh: ClickHouse HTTP interface (chdb-core) on http://$LISTEN, pid $pid, data in $DATA, log $LOG"
        exit 0
    fi
    sleep 0.1
done
echo "start.sh: no answer on http://$LISTEN/ping after 60 s; stopping pid $pid; the end of $LOG:" >&2
tail -n 20 "$LOG" >&2
kill "$pid" 2>/dev/null || true
rm -f "$PIDFILE"
exit 1

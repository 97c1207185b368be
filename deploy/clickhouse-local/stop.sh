#!/usr/bin/env bash
# Stops a server started by start.sh: SIGTERM, then waits until it has written everything out.
#
#   deploy/clickhouse-local/stop.sh [--path DIR]     (default /var/tmp/cormorant-chdb)
set -euo pipefail

DATA="/var/tmp/cormorant-chdb"
while [ "$#" -gt 0 ]; do
    case "$1" in
        --path) DATA="$2"; shift 2 ;;
        --path=*) DATA="${1#*=}"; shift ;;
        *) echo "stop.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# The same absolute path start.sh derived its pid file from.
if [ -d "$DATA" ]; then
    DATA="$(cd "$DATA" && pwd)"
fi
PIDFILE="$DATA.pid"

if [ ! -f "$PIDFILE" ]; then
    echo "stop.sh: no $PIDFILE: nothing started by start.sh for $DATA"
    exit 0
fi
pid="$(cat "$PIDFILE")"
if ! kill -0 "$pid" 2>/dev/null; then
    echo "stop.sh: pid $pid is not running"
    rm -f "$PIDFILE"
    exit 0
fi
kill -TERM "$pid"
# The server drains running statements for up to 30 s before it stops the engine.
for _ in $(seq 1 450); do
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$PIDFILE"
        echo "stop.sh: stopped pid $pid"
        exit 0
    fi
    sleep 0.1
done
echo "stop.sh: pid $pid still running after 45 s" >&2
exit 1

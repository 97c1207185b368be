#!/usr/bin/env bash
# Fails when the committed bpf/socket_trace.bpf.o is not what build.sh produces from the
# C sources in this tree, i.e. someone changed the C code without rebuilding (or the
# other way round). The build is deterministic for a given clang, so a byte comparison
# is exact; a different clang major version than the one that built the committed object
# may emit different code, which this check reports as well (rebuild and commit).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

"$HERE/build.sh" "$scratch" >/dev/null
if ! cmp -s "$scratch/socket_trace.bpf.o" "$HERE/bpf/socket_trace.bpf.o"; then
    echo "ebpf/bpf/socket_trace.bpf.o is stale: run ebpf/build.sh and commit the object" >&2
    echo "(rebuilt with $(clang --version | head -n1))" >&2
    exit 1
fi
echo "ebpf/bpf/socket_trace.bpf.o matches its sources"

#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (`.ci/run` calls this script):
# installs what the tests need, then format check, clippy, build, unit and integration tests,
# and the end-to-end tests that drive the built `cormorant` binary with the OpenTelemetry
# Python SDK. Safe to run again: every install step is skipped when already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="tests/.venv"
REQUIREMENTS="tests/requirements.txt"
# Included by $REQUIREMENTS (`-r`): a change there must trigger a reinstall too.
INCLUDED_REQUIREMENTS="deploy/clickhouse-local/requirements.txt"

step() { printf '\n==> %s\n' "$*"; }

apt_updated=0
# Installs Debian packages that are missing, running `apt-get update` at most once.
ensure_debian_packages() {
    local missing=()
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "missing packages ${missing[*]} and no apt-get to install them" >&2
        exit 1
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    if [ "$apt_updated" -eq 0 ]; then
        "${sudo[@]}" apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

step "toolchain"
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
cargo --version
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done
# zstd-sys and ring compile C code.
if ! command -v cc >/dev/null 2>&1; then
    ensure_debian_packages build-essential
fi
# Only a crate that generates code from .proto files at build time needs protoc.
if ! command -v protoc >/dev/null 2>&1 \
    && grep -rqsE 'tonic_build|tonic_prost_build|prost_build' --include=build.rs \
        --exclude-dir=target --exclude-dir=.venv .; then
    ensure_debian_packages protobuf-compiler
fi

step "python test environment ($VENV)"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    ensure_debian_packages python3-venv
    PYTHON=/usr/bin/python3
fi
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    # Missing, or left behind by an interpreter that is gone: start afresh.
    "$PYTHON" -m venv --clear "$VENV"
fi
# Reinstall only when the requirements changed since the last successful install.
stamp="$VENV/.requirements.sha256"
wanted="$(cat "$REQUIREMENTS" "$INCLUDED_REQUIREMENTS" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQUIREMENTS"
    echo "$wanted" >"$stamp"
fi

step "eBPF object matches its C sources (ebpf/check_object.sh)"
ensure_debian_packages clang llvm libbpf-dev
ebpf/check_object.sh

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build --workspace --all-targets"
cargo build --workspace --all-targets

step "cargo test --workspace"
cargo test --workspace

# Runs one pytest suite (each directory has its own pytest.ini); collecting no tests is a failure.
run_pytest() {
    local status=0
    "$VENV/bin/python" -m pytest "$1" -v || status=$?
    if [ "$status" -eq 5 ]; then
        echo "pytest collected no tests in $1: treating that as a failure" >&2
        return 1
    fi
    return "$status"
}

step "ClickHouse HTTP server over chdb-core (pytest deploy/clickhouse-local)"
store_status=0
run_pytest deploy/clickhouse-local || store_status=$?

step "end-to-end tests (pytest tests/e2e)"
# test_prometheus_remote_write.py runs the real Prometheus server and node exporter.
ensure_debian_packages prometheus prometheus-node-exporter
# test_ebpf_*.py trace real nginx, redis-server, curl and dig (bind9-dnsutils).
ensure_debian_packages nginx redis-server bind9-dnsutils curl
# test_skywalking.py runs the real SkyWalking Node.js agent from tests/e2e/skywalking_apps/node.
NODE_APP="tests/e2e/skywalking_apps/node"
if ! command -v npm >/dev/null 2>&1; then
    ensure_debian_packages nodejs npm
fi
node_stamp="$NODE_APP/node_modules/.package-lock.sha256"
node_wanted="$(sha256sum "$NODE_APP/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$node_stamp" ] || [ "$(cat "$node_stamp")" != "$node_wanted" ]; then
    npm ci --prefix "$NODE_APP" --no-audit --no-fund
    echo "$node_wanted" >"$node_stamp"
fi
export CORMORANT_BIN="$ROOT/target/debug/cormorant"
e2e_status=0
run_pytest tests/e2e || e2e_status=$?

if [ "$store_status" -ne 0 ] || [ "$e2e_status" -ne 0 ]; then
    exit 1
fi

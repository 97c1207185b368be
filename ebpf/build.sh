#!/usr/bin/env bash
# Compiles bpf/socket_trace.bpf.c into bpf/socket_trace.bpf.o (the object the Rust crate
# embeds), or into the directory given as the first argument.
#
# Reproducible on purpose (check_object.sh compares byte for byte): compiled from inside
# bpf/ with relative paths, debug prefixes mapped, then DWARF stripped. The .BTF and
# .BTF.ext sections stay: the loader needs them for maps and CO-RE relocations.
# Needs clang (with the BPF target), llvm-strip and the libbpf headers (Debian: clang llvm
# libbpf-dev).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${1:-$HERE/bpf}"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
CLANG="${CLANG:-clang}"
LLVM_STRIP="${LLVM_STRIP:-llvm-strip}"

cd "$HERE/bpf"
"$CLANG" -O2 -g -target bpf -D__TARGET_ARCH_x86 \
    -Wall -Werror \
    -fdebug-prefix-map="$HERE/bpf"=. -fno-ident \
    -I. -I/usr/include/bpf \
    -c socket_trace.bpf.c -o "$OUT_DIR/socket_trace.bpf.o"
"$LLVM_STRIP" -g "$OUT_DIR/socket_trace.bpf.o"
echo "built $OUT_DIR/socket_trace.bpf.o ($("$CLANG" --version | head -n1))"

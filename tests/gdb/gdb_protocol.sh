#!/bin/bash
# gdb_protocol.sh CLIENT RRVM KERNEL SECONDS: records KERNEL, then runs the protocol
# robustness checks and packet fuzzer (gdb_protocol.c) against `rrvm replay --gdb-port`.
set -u
client=$1 rrvm=$2 kernel=$3 seconds=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" </dev/null >/dev/null 2>"$tmp/rec.err" ||
  [ $? -lt 64 ] || { cat "$tmp/rec.err"; echo "FAIL: record"; exit 1; }
"$client" "$rrvm" "$tmp/t.rrvm" "$seconds"

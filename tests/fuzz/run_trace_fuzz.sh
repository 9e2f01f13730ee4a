#!/bin/bash
# run_trace_fuzz.sh FUZZER RRVM KERNEL... : records each kernel as a seed, then fuzzes the
# trace reader for a bounded time (RRVM_TRACE_FUZZ_SECONDS, default 20) under ASan/UBSan.
set -u
fuzzer=$1 rrvm=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/corpus"
i=0
for k in "$@"; do
  "$rrvm" record -o "$tmp/corpus/seed$i.rrvm" -m 16 -kernel "$k" </dev/null >/dev/null 2>&1
  i=$((i + 1))
done
ls -l "$tmp/corpus"
"$fuzzer" -max_total_time="${RRVM_TRACE_FUZZ_SECONDS:-20}" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 -malloc_limit_mb=4096 "$tmp/corpus" 2>&1 | tail -n 15
status=${PIPESTATUS[0]}
[ "$status" = 0 ] && echo "PASS: trace reader fuzzed without a crash" || echo "FAIL: fuzzer status $status"
exit "$status"

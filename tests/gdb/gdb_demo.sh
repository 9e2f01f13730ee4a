#!/bin/bash
# gdb_demo.sh RRVM KERNEL: the README's demo (scripts/run-demo.sh) as a test: record the
# demo guest, replay under gdb, break at the panic, watch the corrupted field and
# reverse-continue: gdb must stop in timer_handler on the culprit store.
set -u
rrvm=$1 kernel=$2
command -v gdb >/dev/null || { echo "GDB NOT AVAILABLE: test not run"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rrvm" record -o "$tmp/demo.rrvm" -kernel "$kernel" </dev/null >"$tmp/rec.out" 2>&1
grep -q "PANIC: request" "$tmp/rec.out" || { echo "FAIL: the demo guest did not panic"; cat "$tmp/rec.out"; exit 1; }
cat >"$tmp/demo.gdb" <<G
set pagination off
set confirm off
target remote | $rrvm replay --gdb-pipe $tmp/demo.rrvm
break panic
continue
watch -l r->checksum
reverse-continue
backtrace 1
G
timeout 300 gdb -q -batch -nx -x "$tmp/demo.gdb" "$kernel" >"$tmp/gdb.out" 2>&1
cat "$tmp/gdb.out"
grep -qE "^#0 .* in timer_handler .*demo_bug.c:[0-9]+" "$tmp/gdb.out" &&
  grep -q "r->checksum += 1" "$tmp/gdb.out" || { echo "FAIL: reverse search did not find the culprit"; exit 1; }
echo "PASS: watch -l + reverse-continue found the culprit store in timer_handler"

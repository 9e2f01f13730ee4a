#!/bin/bash
# gdb_live.sh RRVM KERNEL: live debugging. `rrvm run --gdb=PORT` starts halted for gdb:
# break, backtrace, fields, continue to the guest's exit. `rrvm record --gdb=PORT`: the same
# session while recording, and the trace still replays exactly (gdb does not disturb it).
set -u
rrvm=$1 kernel=$2
command -v gdb >/dev/null || { echo "GDB NOT AVAILABLE: test not run"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
port=$((20000 + RANDOM % 20000))
session() { # session MODE...
  "$rrvm" "$@" --gdb=$port </dev/null >"$tmp/guest.out" 2>"$tmp/rrvm.err" &
  local pid=$!
  for _ in $(seq 50); do grep -q "waiting for gdb" "$tmp/rrvm.err" && break; sleep 0.1; done
  timeout 60 gdb -q -batch -nx -ex "set confirm off" -ex "target remote 127.0.0.1:$port" \
    -ex "break score" -ex "continue" -ex "bt 2" -ex "print *n" -ex "set var total = 4242" \
    -ex "print total" -ex "set \$edi = 0x1234" -ex "print/x \$edi" -ex "monitor goto 1" -ex "monitor info" -ex "delete" -ex "continue" \
    "$kernel" >"$tmp/gdb.out" 2>&1
  wait $pid
  echo $? >"$tmp/status"
  port=$((port + 1))
}
session run -kernel "$kernel"
cat "$tmp/gdb.out"
grep -q "Breakpoint 1, score" "$tmp/gdb.out" || { echo "FAIL: live breakpoint"; fail=1; }
grep -q "value = 1, weight = 100" "$tmp/gdb.out" || { echo "FAIL: live print"; fail=1; }
grep -q "exited normally" "$tmp/gdb.out" || { echo "FAIL: live exit"; fail=1; }
grep -q "= 4242" "$tmp/gdb.out" || { echo "FAIL: live memory write"; fail=1; }
grep -q "= 0x1234" "$tmp/gdb.out" || { echo "FAIL: live register write"; fail=1; }
# time travel needs a trace: refused in words, and the live guest goes on
grep -q "goto works on a replay" "$tmp/gdb.out" || { echo "FAIL: live monitor goto"; fail=1; }
grep -q "^live guest: icount" "$tmp/gdb.out" || { echo "FAIL: live monitor info"; fail=1; }
grep -q "debugme: " "$tmp/guest.out" || { echo "FAIL: guest output"; fail=1; }
[ "$(cat "$tmp/status")" = 1 ] || { echo "FAIL: rrvm status $(cat "$tmp/status")"; fail=1; }
session record -o "$tmp/t.rrvm" -kernel "$kernel"
grep -q "Breakpoint 1, score" "$tmp/gdb.out" || { echo "FAIL: record --gdb breakpoint"; fail=1; }
# writes would make the recording unreplayable: refused while recording
grep -q "= 4242" "$tmp/gdb.out" && { echo "FAIL: a memory write was accepted while recording"; fail=1; }
"$rrvm" replay "$tmp/t.rrvm" </dev/null >"$tmp/rep.out" 2>"$tmp/rep.err"
cat "$tmp/rep.err"
cmp -s "$tmp/guest.out" "$tmp/rep.out" || { echo "FAIL: replay output differs"; fail=1; }
grep -q "matches the recording" "$tmp/rep.err" || { echo "FAIL: replay digest"; fail=1; }
[ $fail = 0 ] && echo "PASS: live gdb on run and record"
exit $fail

#!/bin/bash
# gdb_replay.sh RRVM KERNEL: records KERNEL (built with -g), then drives Debian's gdb in
# batch mode against `rrvm replay --gdb-port` over a real TCP socket and checks forward
# and reverse debugging: breakpoints by symbol, step/next/finish, backtrace, structure
# fields, reverse-stepi through exactly the states the forward run had, reverse-continue
# to a breakpoint, reverse-finish, reverse-next, and the start of the history.
set -u
rrvm=$1 kernel=$2
command -v gdb >/dev/null || { echo "GDB NOT AVAILABLE: test not run"; exit 77; }
tmp=$(mktemp -d)
srv=
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; rm -rf "$tmp"' EXIT
"$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" </dev/null >"$tmp/rec.out" 2>&1 ||
  [ $? = 1 ] || { echo "FAIL: record"; exit 1; }
fail=0
check() { # check NAME PATTERN FILE
  if grep -qE -- "$2" "$3"; then echo "ok   $1"; else echo "FAIL $1: no /$2/"; fail=1; fi
}
port=$((20000 + RANDOM % 20000))
run_gdb() { # run_gdb SCRIPT OUT
  "$rrvm" replay "$tmp/t.rrvm" --gdb-port $port </dev/null >"$tmp/srv.out" 2>"$tmp/srv.err" &
  srv=$!
  for _ in $(seq 50); do grep -q "waiting for gdb" "$tmp/srv.err" && break; sleep 0.1; done
  timeout 120 gdb -q -batch -nx -ex "set pagination off" -ex "set confirm off" \
    -ex "target remote 127.0.0.1:$port" -x "$1" "$kernel" >"$2" 2>&1
  kill $srv 2>/dev/null
  wait $srv 2>/dev/null
  srv=
  port=$((port + 1))
}

# 1: forward: breakpoints, stepping, backtrace, fields
cat >"$tmp/a.gdb" <<'G'
break score
continue
backtrace
print n->value
print n->weight
print *n
print n->next->value
finish
next
step
info registers eip
monitor when
G
run_gdb "$tmp/a.gdb" "$tmp/a.out"
check "break by symbol" "Breakpoint 1, score \(n=" "$tmp/a.out"
check "backtrace" "#1 .* walk \(" "$tmp/a.out"
check "backtrace to kmain" "#2 .* kmain \(" "$tmp/a.out"
check "print field" '^\$1 = 1$' "$tmp/a.out"
check "print field 2" '^\$2 = 100$' "$tmp/a.out"
check "print struct" 'value = 1, weight = 100, next = 0x' "$tmp/a.out"
check "print through pointer" '^\$4 = 8$' "$tmp/a.out"
check "finish" "Value returned is .* = 107" "$tmp/a.out"
check "step/next" "^23[[:space:]]+total = sum;" "$tmp/a.out"
check "monitor when" "^icount [0-9]+" "$tmp/a.out"

# 2: reverse-stepi passes through exactly the states the forward stepi had
cat >"$tmp/b.gdb" <<'G'
break walk
continue
G
for i in $(seq 1 12); do echo 'printf "F %u %x %x %x\n", $icount, $pc, $esp, $eax' >>"$tmp/b.gdb"; echo stepi >>"$tmp/b.gdb"; done
echo 'printf "F %u %x %x %x\n", $icount, $pc, $esp, $eax' >>"$tmp/b.gdb"
for i in $(seq 1 12); do echo reverse-stepi >>"$tmp/b.gdb"; echo 'printf "R %u %x %x %x\n", $icount, $pc, $esp, $eax' >>"$tmp/b.gdb"; done
run_gdb "$tmp/b.gdb" "$tmp/b.out"
grep '^F ' "$tmp/b.out" | sed 's/^F //' | head -n 12 | tac >"$tmp/fwd"
grep '^R ' "$tmp/b.out" | sed 's/^R //' >"$tmp/rev"
if [ "$(wc -l <"$tmp/fwd")" = 12 ] && cmp -s "$tmp/fwd" "$tmp/rev"; then
  echo "ok   reverse-stepi x12 retraces the forward states (icount, eip, esp, eax)"
else
  echo "FAIL reverse-stepi states differ"; diff "$tmp/fwd" "$tmp/rev" | head; fail=1
fi

# 3: reverse-continue, reverse-finish, reverse-next, start of history
cat >"$tmp/c.gdb" <<'G'
break score
continue
continue
continue
printf "third hit at %u value %u\n", $icount, n->value
reverse-continue
printf "reverse-continue at %u value %u\n", $icount, n->value
reverse-finish
bt 1
info line *$pc
next
reverse-next
info line *$pc
monitor when
delete
monitor goto 1
reverse-stepi
reverse-stepi
G
run_gdb "$tmp/c.gdb" "$tmp/c.out"
check "third hit" "third hit at [0-9]+ value 15" "$tmp/c.out"
check "reverse-continue to the previous hit" "reverse-continue at [0-9]+ value 8" "$tmp/c.out"
check "reverse-finish back in the caller" "^#0 .* in walk \(head=" "$tmp/c.out"
# reverse-next goes back to the start of the line where next began
lines=$(grep -oE '^Line [0-9]+ of' "$tmp/c.out" | tr '\n' ' ')
set -- $lines
if [ -n "${2:-}" ] && [ "$2" = "${5:-x}" ]; then echo "ok   reverse-next returns to line $2"; else echo "FAIL reverse-next: lines $lines"; fail=1; fi
check "start of the history" "No more reverse-execution history" "$tmp/c.out"
# 4: write watchpoints forward (old/new values) and backward (the last writer)
cat >"$tmp/d.gdb" <<'G'
break walk
continue
watch -l total
continue
continue
continue
printf "forward total %u\n", total
reverse-continue
printf "reverse total %u\n", total
reverse-continue
printf "reverse2 total %u\n", total
G
run_gdb "$tmp/d.gdb" "$tmp/d.out"
check "watchpoint set" "Hardware watchpoint 2: -location total" "$tmp/d.out"
check "write watchpoint old/new" "Old value = 107" "$tmp/d.out"
check "write watchpoint new" "New value = 381" "$tmp/d.out"
check "forward value" "forward total 381" "$tmp/d.out"
check "reverse watch finds the last writer" "^23[[:space:]]+total = sum;" "$tmp/d.out"
check "reverse watch value before the write" "reverse total 223" "$tmp/d.out"
check "second reverse watch" "reverse2 total 107" "$tmp/d.out"
# 5: read and access watchpoints, forward and backward
cat >"$tmp/e.gdb" <<'G'
break walk
continue
rwatch pool[2].weight
continue
printf "rwatch stop at %x\n", $pc
delete
awatch total
continue
continue
reverse-continue
printf "awatch reverse at %x\n", $pc
G
run_gdb "$tmp/e.gdb" "$tmp/e.out"
check "read watchpoint" "Hardware read watchpoint 2: pool\[2\].weight" "$tmp/e.out"
check "read watchpoint value" "Value = 98" "$tmp/e.out"
check "read watchpoint reported after the reading instruction" "rwatch stop at 100695" "$tmp/e.out"
check "access watchpoint" "Hardware access \(read/write\) watchpoint 3: total" "$tmp/e.out"
check "access watchpoint backwards" "awatch reverse at 1006a1" "$tmp/e.out"
if [ $fail != 0 ]; then
  echo "--- gdb transcripts"; cat "$tmp/a.out" "$tmp/c.out" "$tmp/d.out" "$tmp/e.out" | tail -n 90
  exit 1
fi
echo "PASS: gdb forward and reverse debugging of a replay"

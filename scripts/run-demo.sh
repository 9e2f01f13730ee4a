#!/usr/bin/env bash
# The first thing to run on a fresh Debian 12 machine (as root): installs the build
# dependencies, builds rrvm and its bundled guest kernels into build/, then shows what rrvm
# is for on the bundled demo guest (tests/guests/sys/demo_bug.c):
#   1. records a run of a kernel whose timer interrupt handler writes through a stale
#      pointer into a reused request node; the corruption makes it panic much later;
#   2. replays the trace under stock gdb, stops at the panic, puts a watchpoint on the
#      corrupted field and runs backwards to the store that corrupted it, printing the
#      function and source line of the culprit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake -S . -B build
cmake --build build -j2

kernel=build/tests/guests/sys/demo_bug.elf
trace=build/demo.rrvm
if [[ ! -f "$kernel" ]]; then
  echo "run-demo: the demo guest was not built ($kernel): is RRVM_GUESTS on?" >&2
  exit 1
fi

echo "run-demo: 1. recording the demo guest: build/rrvm record -o $trace -kernel $kernel"
status=0
timeout 120 build/rrvm record -o "$trace" -kernel "$kernel" </dev/null || status=$?
echo "run-demo: the guest panicked (rrvm exit status $status); the trace is self-contained:"
build/rrvm trace info "$trace" | sed 's/^/    /'

echo
echo "run-demo: 2. replaying it under gdb and going back in time to the culprit store"
cat >build/demo.gdb <<EOF
set pagination off
set confirm off
target remote | build/rrvm replay --gdb-pipe $trace
break panic
continue
print *r
watch -l r->checksum
reverse-continue
echo \n=== the culprit store: ===\n
backtrace 3
info line *\$pc
EOF
out=$(timeout 300 gdb -q -batch -nx -x build/demo.gdb "$kernel" 2>&1) || true
echo "$out" | sed 's/^/    /'
culprit=$(echo "$out" | sed -n '/=== the culprit store/,$p' | grep -m1 -oE '#0 .* at [^ ]+:[0-9]+' || true)
if echo "$culprit" | grep -q "timer_handler"; then
  echo
  echo "run-demo: found it: $culprit"
  echo "run-demo: (the interrupt handler writes through its stale in_flight pointer)"
  exit 0
fi
echo "run-demo: the reverse search did not end in timer_handler" >&2
exit 1

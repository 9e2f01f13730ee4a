#!/bin/bash
# idle_check.sh RRVM KERNEL: the guest idles in HLT for one second of host time; rrvm must
# take that long (it waits for the timer) and use little host CPU meanwhile (it sleeps
# instead of spinning): user+system time at most a third of the elapsed time.
set -u
rrvm=$1 kernel=$2
TIMEFORMAT='%R %U %S'
t=$( { time "$rrvm" run -kernel "$kernel" >/dev/null 2>&1 </dev/null; } 2>&1 )
read -r real user sys <<<"$t"
echo "elapsed ${real}s, user ${user}s, system ${sys}s"
ok=$(echo "$real >= 0.9 && ($user + $sys) <= $real / 3" | bc -l)
if [ "$ok" != 1 ]; then
  echo "FAIL: a guest halted for 1 s must take >= 0.9 s and use <= 1/3 of it as host CPU time"
  exit 1
fi
echo "PASS: HLT sleeps"

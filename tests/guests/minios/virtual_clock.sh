#!/bin/bash
# virtual_clock.sh RRVM KERNEL: runs KERNEL twice under rrvm --clock=virtual and checks
# that both runs print the same output and exit with the same status.
set -u
rrvm=$1 kernel=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in 1 2; do
  timeout 25 "$rrvm" run -kernel "$kernel" --clock=virtual >"$tmp/out$i" 2>"$tmp/err$i" </dev/null
  echo $? >"$tmp/status$i"
done
fail=0
if ! diff -u "$tmp/out1" "$tmp/out2"; then echo "FAIL: outputs differ"; fail=1; fi
s1=$(cat "$tmp/status1") s2=$(cat "$tmp/status2")
if [ "$s1" != "$s2" ]; then echo "FAIL: exit statuses differ: $s1 vs $s2"; fail=1; fi
if [ "$s1" = 124 ]; then echo "FAIL: timed out"; fail=1; fi
if [ $fail != 0 ]; then
  for i in 1 2; do [ -s "$tmp/err$i" ] && { echo "--- rrvm stderr $i:"; head -n 20 "$tmp/err$i"; }; done
else
  echo "PASS: minios --clock=virtual runs identical (status $s1)"
fi
exit $fail

#!/bin/bash
# echo_test.sh RRVM KERNEL: feeds two lines to COM1 through stdin with -append echo=2 and
# checks that the echo task printed both back and that the kernel finished normally.
set -u
rrvm=$1 kernel=$2
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
printf 'hello\nworld\n' | timeout 50 "$rrvm" run -kernel "$kernel" -append echo=2 >"$out" 2>"$err"
status=$?
fail=0
want=$'echo: hello\necho: world'
got=$(grep '^echo: ' "$out")
if [ "$got" != "$want" ]; then
  echo "FAIL: echo lines differ: expected"; echo "$want"; echo "got:"; echo "$got"; fail=1
fi
grep -q '^minios: all tasks finished$' "$out" || { echo "FAIL: no completion line"; fail=1; }
[ "$status" = 1 ] || { echo "FAIL: exit status $status, expected 1"; fail=1; }
if [ $fail != 0 ]; then
  echo "--- output:"; cat "$out"
  [ -s "$err" ] && { echo "--- rrvm stderr:"; head -n 50 "$err"; }
else
  echo "PASS: minios echo"
fi
exit $fail

#!/bin/bash
# check_fault.sh RRVM KERNEL UD|DE
# The kernel prints "<what> at: XXXXXXXX" (the faulting instruction's address) and then
# faults. rrvm must exit nonzero and report "guest #<KIND> at eip=0x<that address> ...
# icount=N" (on stdout or stderr). tests/guests/expected/<kernel>.out holds what the
# guest prints under QEMU (for reference; the address depends on the compiler).
set -u
rrvm=$1 kernel=$2 kind=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout 55 "$rrvm" run -kernel "$kernel" >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
fail=0
if [ $status = 0 ] || [ $status = 124 ]; then
  echo "FAIL: rrvm exit status $status, expected a nonzero status from the #$kind"
  fail=1
fi
site=$(grep -oE '^(executing ud2|dividing by zero) at: [0-9a-f]{8}$' "$tmp/out" | head -n 1)
if [ -z "$site" ]; then
  echo "FAIL: the guest's line '... at: XXXXXXXX' is missing from stdout"
  fail=1
fi
line=$(cat "$tmp/out" "$tmp/err" | grep -E "guest #$kind at eip=0x[0-9a-fA-F]+" | head -n 1)
if [ -z "$line" ] || ! echo "$line" | grep -qE "icount=[0-9]+"; then
  echo "FAIL: no 'guest #$kind at eip=0x... icount=N' report"
  fail=1
else
  want=${site##* }
  [ -n "$want" ] || want=0
  got=$(echo "$line" | sed -E 's/.*eip=0x([0-9a-fA-F]+).*/\1/')
  if [ $((16#$want)) != $((16#$got)) ]; then
    echo "FAIL: reported eip=0x$got, the faulting instruction is at 0x$want"
    fail=1
  fi
fi
if [ $fail != 0 ]; then
  echo "--- rrvm stdout:"; head -n 20 "$tmp/out"
  echo "--- rrvm stderr:"; head -n 20 "$tmp/err"
else
  echo "PASS: $line"
fi
exit $fail

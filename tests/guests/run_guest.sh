#!/bin/bash
# run_guest.sh RRVM KERNEL EXPECTED_OUT EXPECTED_STATUS [extra rrvm args...]
# Runs KERNEL under rrvm; fails unless stdout equals EXPECTED_OUT byte for byte and the
# exit status equals EXPECTED_STATUS.
set -u
rrvm=$1 kernel=$2 expected=$3 want_status=$4
shift 4
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
timeout 55 "$rrvm" run -kernel "$kernel" "$@" >"$out" 2>"$err" </dev/null
status=$?
fail=0
if ! diff -u "$expected" "$out"; then
  echo "FAIL: stdout differs from $expected (diff above: - expected, + rrvm)"
  fail=1
fi
if [ "$status" != "$want_status" ]; then
  echo "FAIL: exit status $status, expected $want_status"
  fail=1
fi
if [ $fail != 0 ] && [ -s "$err" ]; then
  echo "--- rrvm stderr:"
  head -n 50 "$err"
fi
[ $fail = 0 ] && echo "PASS: $(basename "$kernel")"
exit $fail

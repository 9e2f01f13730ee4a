#!/bin/bash
# native_diff.sh RRVM KERNEL NATIVE
# Runs an instruction test kernel under rrvm and the same test code as a native 32-bit
# process (the real CPU); the hashed results must be identical.
set -u
rrvm=$1 kernel=$2 native=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$native" >"$tmp/native.out" 2>&1
ns=$?
timeout 55 "$rrvm" run -kernel "$kernel" >"$tmp/rrvm.out" 2>"$tmp/rrvm.err" </dev/null
rs=$?
fail=0
if [ $ns != 0 ]; then echo "FAIL: native run exited $ns"; fail=1; fi
if [ $rs != 1 ]; then echo "FAIL: rrvm exit status $rs, expected 1"; cat "$tmp/rrvm.err"; fail=1; fi
if ! diff -u "$tmp/native.out" "$tmp/rrvm.out"; then
  echo "FAIL: rrvm differs from the host CPU (- native, + rrvm)"
  fail=1
fi
[ $fail = 0 ] && echo "PASS: $(basename "$kernel") matches the host CPU"
exit $fail

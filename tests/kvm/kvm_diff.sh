#!/bin/bash
# kvm_diff.sh RRVM KVM_RUN KERNEL...
# Where KVM really runs 32-bit paging guests (kvm_run --probe), runs each kernel under the
# KVM harness and under rrvm and compares serial output and exit status. Otherwise says
# loudly why not and exits 77: ctest reports the test as skipped, never as passed.
set -u
rrvm=$1 kvm=$2
shift 2
probe=$("$kvm" --probe 2>&1)
ps=$?
if [ $ps = 77 ]; then
  echo "*****************************************************************"
  echo "KVM DIFFERENTIAL TEST NOT RUN: $probe"
  echo "*****************************************************************"
  exit 77
fi
if [ $ps != 0 ]; then echo "FAIL: KVM probe: $probe"; exit 1; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for k in "$@"; do
  timeout 30 "$kvm" "$k" >"$tmp/kvm.out" 2>"$tmp/kvm.err" </dev/null
  ks=$?
  timeout 60 "$rrvm" run -kernel "$k" >"$tmp/rrvm.out" 2>"$tmp/rrvm.err" </dev/null
  rs=$?
  if ! diff -u "$tmp/kvm.out" "$tmp/rrvm.out" >"$tmp/diff" || [ $ks != $rs ]; then
    echo "FAIL: $(basename "$k"): KVM status $ks, rrvm status $rs"
    head -n 40 "$tmp/diff"
    fail=1
  else
    echo "PASS: $(basename "$k") matches KVM (status $rs)"
  fi
done
exit $fail

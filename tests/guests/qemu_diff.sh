#!/bin/bash
# qemu_diff.sh RRVM KERNEL [extra args (e.g. -append STR)...]
# Runs KERNEL under qemu-system-i386 (the reference) and under rrvm and compares the
# serial output and the exit status. Exits 77 (skipped) if QEMU is not installed.
set -u
rrvm=$1 kernel=$2
shift 2
qemu=${QEMU:-qemu-system-i386}
if ! command -v "$qemu" >/dev/null 2>&1; then
  echo "*****************************************************************"
  echo "QEMU NOT AVAILABLE: differential test NOT run ($qemu not found)"
  echo "*****************************************************************"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout 20 "$qemu" -kernel "$kernel" "$@" -display none -serial stdio -monitor none \
  -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -m 128 -accel tcg \
  >"$tmp/qemu.out" 2>"$tmp/qemu.err" </dev/null
qs=$?
timeout 35 "$rrvm" run -kernel "$kernel" "$@" >"$tmp/rrvm.out" 2>"$tmp/rrvm.err" </dev/null
rs=$?
fail=0
if [ $qs = 124 ]; then echo "FAIL: QEMU timed out"; fail=1; fi
if ! diff -u "$tmp/qemu.out" "$tmp/rrvm.out"; then
  echo "FAIL: output differs (- QEMU, + rrvm)"
  fail=1
fi
if [ $qs != $rs ]; then
  echo "FAIL: exit status: QEMU $qs, rrvm $rs"
  fail=1
fi
if [ $fail != 0 ]; then
  [ -s "$tmp/qemu.err" ] && { echo "--- QEMU stderr:"; head -n 20 "$tmp/qemu.err"; }
  [ -s "$tmp/rrvm.err" ] && { echo "--- rrvm stderr:"; head -n 50 "$tmp/rrvm.err"; }
else
  echo "PASS: $(basename "$kernel") matches QEMU (status $rs)"
fi
exit $fail

#!/bin/bash
# bench/cpubench.sh [BUILD_DIR] [ITERS]
# Runs the cpubench guest kernel under rrvm (--stats) and under qemu-system-i386 TCG,
# best wall-clock time of 3 runs each, checks that both print the same checksum and
# prints the speed ratio. Builds nothing: build rrvm and the guest kernels first.
set -u
build=${1:-build}
iters=${2:-}
rrvm=$build/rrvm
kernel=$build/tests/guests/cpubench.elf
qemu=${QEMU:-qemu-system-i386}
for f in "$rrvm" "$kernel"; do
  [ -e "$f" ] || { echo "cpubench.sh: $f not found (build first: cmake --build $build)" >&2; exit 2; }
done
command -v "$qemu" >/dev/null || { echo "cpubench.sh: $qemu not found" >&2; exit 2; }
append=()
[ -n "$iters" ] && append=(-append "iters=$iters")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
# best_of3 NAME CMD... : stdout of the last run in $tmp/NAME.out, best time in $tmp/NAME.t
best_of3() {
  local name=$1 best="" t0 t1 t
  shift
  for _ in 1 2 3; do
    t0=$(now)
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
    echo $? >"$tmp/$name.rc"
    t1=$(now)
    t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  echo "$best" >"$tmp/$name.t"
}

best_of3 rrvm "$rrvm" run -kernel "$kernel" "${append[@]}" --stats
best_of3 qemu "$qemu" -kernel "$kernel" "${append[@]}" -accel tcg -display none -serial stdio \
  -monitor none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -m 128

rsum=$(grep -oE 'checksum=[0-9a-f]+' "$tmp/rrvm.out" | head -n 1)
qsum=$(grep -oE 'checksum=[0-9a-f]+' "$tmp/qemu.out" | head -n 1)
rt=$(cat "$tmp/rrvm.t") qt=$(cat "$tmp/qemu.t")
printf 'QEMU TCG: %.3f s (best of 3), exit %s, %s\n' "$qt" "$(cat "$tmp/qemu.rc")" "${qsum:-no checksum}"
printf 'rrvm:     %.3f s (best of 3), exit %s, %s\n' "$rt" "$(cat "$tmp/rrvm.rc")" "${rsum:-no checksum}"
echo "--- rrvm --stats:"
cat "$tmp/rrvm.err"
grep -v 'checksum=' "$tmp/rrvm.out" || true
status=0
if [ -z "$qsum" ] || [ "$rsum" != "$qsum" ]; then
  echo "CHECKSUM MISMATCH: rrvm '${rsum:-none}' vs QEMU '${qsum:-none}'"
  status=1
fi
printf 'rrvm is %.2fx the speed of QEMU TCG\n' "$(echo "$qt / $rt" | bc -l)"
exit $status

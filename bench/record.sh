#!/bin/bash
# bench/record.sh [BUILD_DIR]
# Record/replay costs, measured in one run beside QEMU's own record/replay
# (-icount shift=auto,rr=record / rr=replay) on the same kernels:
#   - record overhead: rrvm record vs rrvm run (best of 3 wall-clock times each)
#   - replay speed relative to recording
#   - trace bytes per guest second (recording wall time) and per event
# Kernels: the CPU-bound cpubench and the mini-OS (1 kHz timer, preemptive tasks).
set -u
build=${1:-build}
rrvm=$build/rrvm
qemu=${QEMU:-qemu-system-i386}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
# best3 CMD...: best wall-clock time of 3 runs, printed with 3 decimals
best3() {
  local best="" t0 t1 t
  for _ in 1 2 3; do
    t0=$(now)
    "$@" </dev/null >/dev/null 2>&1
    t1=$(now)
    t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  printf '%.3f' "$best"
}
qemu_args() {
  echo -display none -serial stdio -monitor none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -m 128
}
printf '%-10s %8s %8s %8s %7s %8s %9s %8s %8s %10s | %8s %8s %8s %9s\n' kernel run_s rec_s \
  replay_s rec/run rep/rec trace_B events B/event B/guest_s qemu_rec qemu_rep q_rec/run \
  qemu_B
for k in cpubench minios/minios; do
  elf=$build/tests/guests/$k.elf
  name=$(basename "$k")
  run=$(best3 "$rrvm" run -kernel "$elf")
  rec=$(best3 "$rrvm" record -o "$tmp/$name.rrvm" -kernel "$elf")
  rep=$(best3 "$rrvm" replay --quiet "$tmp/$name.rrvm")
  size=$(stat -c %s "$tmp/$name.rrvm")
  events=$("$rrvm" trace info "$tmp/$name.rrvm" | sed -n 's/^events: *\([0-9]*\) in.*/\1/p')
  qrun=$(best3 "$qemu" -kernel "$elf" $(qemu_args) -icount shift=auto)
  qrec=$(best3 "$qemu" -kernel "$elf" $(qemu_args) -icount shift=auto,rr=record,rrfile="$tmp/$name.qrr")
  qrep=$(best3 "$qemu" -kernel "$elf" $(qemu_args) -icount shift=auto,rr=replay,rrfile="$tmp/$name.qrr")
  qsize=$(stat -c %s "$tmp/$name.qrr")
  printf '%-10s %8s %8s %8s %7.2f %8.2f %9s %8s %8.1f %10.0f | %8s %8s %8.2f %9s\n' \
    "$name" "$run" "$rec" "$rep" "$(echo "$rec / $run" | bc -l)" "$(echo "$rep / $rec" | bc -l)" \
    "$size" "$events" "$(echo "$size / $events" | bc -l)" "$(echo "$size / $rec" | bc -l)" \
    "$qrec" "$qrep" "$(echo "$qrec / $qrun" | bc -l)" "$qsize"
done
echo "rec/run: rrvm's record overhead (target <= 1.10); rep/rec: replay time relative to recording;"
echo "B/guest_s: trace bytes per second of recorded run; QEMU columns: -icount shift=auto with rr=record/replay,"
echo "q_rec/run: QEMU's record time relative to its own -icount run."

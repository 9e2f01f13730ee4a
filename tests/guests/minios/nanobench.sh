#!/bin/bash
# nanobench.sh RRVM KERNEL [N]: runs the minios_bench kernel row by row (-append "row=R n=N")
# under rrvm and under qemu-system-i386 (TCG, the qemu_diff.sh command line) and prints per
# row: the guest-reported RDTSC cycles per iteration of each (different time bases: rrvm's
# guest TSC counts guest time at 1 GHz, QEMU's follows the host TSC), then the wall-clock
# nanoseconds per iteration of each (process time minus the "empty" row's, divided by N) and
# the wall-clock ratio QEMU/rrvm (> 1: rrvm is faster), which is the main figure.
set -u
rrvm=${1:?usage: nanobench.sh RRVM KERNEL [N]} kernel=${2:?kernel} n=${3:-10000}
qemu=${QEMU:-qemu-system-i386}
rows="empty int80 sysenter in out cr3 pf invlpg ctxsw"
have_qemu=1
command -v "$qemu" >/dev/null 2>&1 || { echo "note: $qemu not found, rrvm only"; have_qemu=0; }

# run_one VMM ROW -> "cycles seconds"
run_one() {
  local vmm=$1 row=$2 t0 t1 out
  t0=$(date +%s.%N)
  if [ "$vmm" = rrvm ]; then
    out=$(timeout 300 "$rrvm" run -kernel "$kernel" -append "row=$row n=$n" </dev/null 2>/dev/null)
  else
    out=$(timeout 300 "$qemu" -kernel "$kernel" -append "row=$row n=$n" -display none \
      -serial stdio -monitor none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
      -m 128 -accel tcg </dev/null 2>/dev/null)
  fi
  t1=$(date +%s.%N)
  local cyc
  cyc=$(printf '%s\n' "$out" | awk -v r="$row" '$1 == r { print $2 }')
  echo "${cyc:-ERR} $(echo "$t1 - $t0" | bc -l)"
}

declare -A rc rt qc qt
# run_min VMM ROW: the fastest of 3 runs (start-up time is noisy, QEMU's especially)
run_min() {
  local best="" c t
  for _ in 1 2 3; do
    read -r c t < <(run_one "$1" "$2")
    if [ -z "$best" ] || [ "$(echo "$t < ${best#* }" | bc -l)" = 1 ]; then best="$c $t"; fi
  done
  echo "$best"
}
for row in $rows; do
  read -r rc[$row] rt[$row] < <(run_min rrvm "$row")
  if [ $have_qemu = 1 ]; then
    read -r qc[$row] qt[$row] < <(run_min qemu "$row")
  else
    qc[$row]=- qt[$row]=0
  fi
done

# The guest's own measurement is the steadier figure (no start-up time in it): rrvm's guest
# TSC counts host nanoseconds; QEMU TCG's RDTSC gives host TSC ticks, converted here with
# the host TSC rate measured against CLOCK_MONOTONIC.
tmpd=$(mktemp -d)
cat >"$tmpd/tsc.c" <<'C'
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>
int main(void) {
    struct timespec a, b, d = {0, 200000000};
    clock_gettime(CLOCK_MONOTONIC, &a);
    unsigned long long t0 = __rdtsc();
    nanosleep(&d, NULL);
    unsigned long long t1 = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.4f\n", (double)(t1 - t0) / ns);
    return 0;
}
C
ghz=$(gcc -O2 -o "$tmpd/tsc" "$tmpd/tsc.c" 2>/dev/null && "$tmpd/tsc")
rm -rf "$tmpd"
echo "# N=$n iterations per row; host TSC ${ghz:-?} GHz"
echo "# in-guest ns/iter: rrvm guest TSC (ns); QEMU guest RDTSC ticks / host TSC GHz"
echo "# wall ns/iter = (row time - empty row time) / N (start-up noise included)"
printf '%-9s %12s %12s %10s %14s %14s %10s\n' row rrvm_ns qemu_ns qemu/rrvm rrvm_wall_ns \
  qemu_wall_ns qemu/rrvm
for row in $rows; do
  [ "$row" = empty ] && continue
  rn=$(echo "(${rt[$row]} - ${rt[empty]}) * 1000000000 / $n" | bc -l)
  qn=$(echo "(${qt[$row]} - ${qt[empty]}) * 1000000000 / $n" | bc -l)
  ratio=$(echo "r = $rn; if (r <= 0) r = 0.001; $qn / r" | bc -l)
  gq=0 gratio=0
  if [ $have_qemu = 1 ] && [ -n "$ghz" ] && [ "${qc[$row]}" != ERR ] && [ "${rc[$row]}" != ERR ]; then
    gq=$(echo "${qc[$row]} / $ghz" | bc -l)
    gratio=$(echo "r = ${rc[$row]}; if (r <= 0) r = 0.001; $gq / r" | bc -l)
  fi
  [ $have_qemu = 1 ] || { qn=0; ratio=0; }
  printf '%-9s %12s %12.0f %10.2f %14.1f %14.1f %10.2f\n' "$row" "${rc[$row]}" "$gq" "$gratio" \
    "$rn" "$qn" "$ratio"
done

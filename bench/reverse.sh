#!/bin/bash
# bench/reverse.sh [BUILD_DIR]: latency of reverse execution under gdb on a long trace
# (cpubench, ~1.7 G instructions): reverse-stepi and reverse-continue after running forward
# to breakpoint hits at increasing depths. Checkpoints every 50 M instructions are meant to
# keep each reverse-stepi around 0.1 s or less. Prints seconds; no pass/fail.
set -u
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/rrvm" record -o "$tmp/cb.rrvm" -kernel "$build/tests/guests/cpubench.elf" </dev/null >/dev/null 2>&1
printf '%-8s %14s %18s %20s\n' hits icount reverse-stepi_s reverse-continue_s
for hits in 10 100 300 480; do
  cat >"$tmp/g" <<G
set pagination off
set confirm off
target remote | $build/rrvm replay --gdb-pipe $tmp/cb.rrvm
break intloop
ignore 1 $hits
continue
monitor when
shell date +%s.%N
reverse-stepi
shell date +%s.%N
reverse-continue
shell date +%s.%N
G
  out=$(timeout 300 gdb -q -batch -nx -x "$tmp/g" "$build/tests/guests/cpubench.elf" 2>&1)
  ic=$(echo "$out" | sed -n 's/^icount //p' | head -n 1)
  mapfile -t t < <(echo "$out" | grep -E '^[0-9]+\.[0-9]+$')
  printf '%-8s %14s %18.3f %20.3f\n' "$hits" "$ic" "$(echo "${t[1]} - ${t[0]}" | bc -l)" \
    "$(echo "${t[2]} - ${t[1]}" | bc -l)"
done

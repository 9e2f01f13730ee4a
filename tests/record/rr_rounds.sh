#!/bin/bash
# rr_rounds.sh RRVM KERNEL N: N record/replay rounds of KERNEL while the host is loaded by
# a varying number of busy processes (so interrupts land at different instructions in each
# recording); every replay must match its recording: 0 divergences.
set -u
rrvm=$1 kernel=$2 n=$3
tmp=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
div=0
for i in $(seq 1 "$n"); do
  # 0..2 background busy loops, changing every round
  kill "${pids[@]}" 2>/dev/null
  pids=()
  for _ in $(seq 1 $((i % 3))); do (while :; do :; done) & pids+=($!); done
  "$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" </dev/null >"$tmp/rec.out" 2>/dev/null
  rs=$?
  "$rrvm" replay "$tmp/t.rrvm" </dev/null >"$tmp/rep.out" 2>"$tmp/rep.err"
  ps=$?
  if ! cmp -s "$tmp/rec.out" "$tmp/rep.out" || [ $rs != $ps ] || ! grep -q "matches the recording" "$tmp/rep.err"; then
    div=$((div + 1))
    echo "round $i: DIVERGED"; tail -n 2 "$tmp/rep.err"
  fi
  irqs=$("$rrvm" trace info "$tmp/t.rrvm" | sed -n 's/^ *interrupts *//p')
  echo "round $i: load $((i % 3)), ${irqs:-0} interrupts recorded, replay ok"
done
echo "$n rounds, $div divergences"
[ $div = 0 ]

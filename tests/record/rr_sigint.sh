#!/bin/bash
# rr_sigint.sh RRVM KERNEL: SIGINT to a recording rrvm closes a complete, replayable trace.
set -u
rrvm=$1 kernel=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" -append iters=20000 </dev/null >"$tmp/rec.out" 2>"$tmp/rec.err" &
pid=$!
sleep 2
kill -INT $pid
wait $pid
rs=$?
cat "$tmp/rec.err"
"$rrvm" trace info "$tmp/t.rrvm" | grep -q "^complete: *yes" || { echo "FAIL: trace not complete"; exit 1; }
"$rrvm" replay "$tmp/t.rrvm" </dev/null >"$tmp/rep.out" 2>"$tmp/rep.err"
ps=$?
cat "$tmp/rep.err"
cmp -s "$tmp/rec.out" "$tmp/rep.out" || { echo "FAIL: output differs"; exit 1; }
grep -q "matches the recording" "$tmp/rep.err" || { echo "FAIL: digest"; exit 1; }
[ $rs = $ps ] || { echo "FAIL: status $rs vs $ps"; exit 1; }
echo "PASS: SIGINT closed a complete trace that replays"

#!/bin/bash
# rr_killed.sh RRVM KERNEL: a recorder killed with SIGKILL mid-run leaves a trace that
# `trace info` calls truncated and that replays up to its last complete chunk.
set -u
rrvm=$1 kernel=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" -append iters=20000 </dev/null >/dev/null 2>&1 &
pid=$!
sleep 3
kill -KILL $pid
wait $pid 2>/dev/null
"$rrvm" trace info "$tmp/t.rrvm" >"$tmp/info" 2>&1
is=$?
cat "$tmp/info"
if [ $is != 0 ] || ! grep -q "TRUNCATED" "$tmp/info"; then echo "FAIL: trace info does not report truncation"; exit 1; fi
"$rrvm" replay --quiet "$tmp/t.rrvm" </dev/null >/dev/null 2>"$tmp/err"
st=$?
cat "$tmp/err"
if [ $st != 7 ]; then echo "FAIL: replay exit status $st, expected 7 (truncated trace)"; exit 1; fi
echo "PASS: killed recording replays to its last complete chunk"

#!/bin/bash
# rr_forged.sh RRVM TRACE_EDIT KERNEL MODE: a trace with one event altered and its checksums
# recomputed (trace_edit) must still be caught by replay as a divergence (exit 6, a message
# naming the icount), not replayed silently.
set -u
rrvm=$1 edit=$2 kernel=$3 mode=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" </dev/null >/dev/null 2>&1
"$edit" "$tmp/t.rrvm" "$tmp/f.rrvm" "$mode" || { echo "FAIL: trace_edit"; exit 1; }
"$rrvm" replay --quiet "$tmp/f.rrvm" </dev/null >/dev/null 2>"$tmp/err"
st=$?
cat "$tmp/err"
if [ $st != 6 ]; then echo "FAIL: exit status $st, expected 6 (divergence)"; exit 1; fi
grep -qE "diverged at icount [0-9]+|DIFFERS" "$tmp/err" || { echo "FAIL: no divergence message"; exit 1; }
echo "PASS: forged trace ($mode) caught"

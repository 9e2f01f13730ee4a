#!/bin/bash
# rr_tools.sh RRVM KERNEL: trace info / dump / verify on a real recording.
set -u
rrvm=$1 kernel=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
"$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" </dev/null >/dev/null 2>&1
"$rrvm" trace info "$tmp/t.rrvm" >"$tmp/info" || fail=1
grep -q "^complete: *yes" "$tmp/info" || { echo "FAIL: info: not complete"; fail=1; }
ports=$(sed -n 's/^ *port reads *\([0-9]*\)$/\1/p' "$tmp/info")
"$rrvm" trace dump "$tmp/t.rrvm" >"$tmp/dump" || fail=1
n=$(grep -c ' port_in ' "$tmp/dump")
[ "$n" = "$ports" ] || { echo "FAIL: dump has $n port reads, info says $ports"; fail=1; }
[ "$(grep -c ' end ' "$tmp/dump")" = 1 ] || { echo "FAIL: dump: not exactly one end event"; fail=1; }
"$rrvm" trace dump "$tmp/t.rrvm" --kind interrupt | grep -vq ' interrupt ' && { echo "FAIL: --kind"; fail=1; }
"$rrvm" trace verify "$tmp/t.rrvm" 2>"$tmp/verify" || { echo "FAIL: verify"; cat "$tmp/verify"; fail=1; }
grep -q "checksums good" "$tmp/verify" || fail=1
grep -q "matches the recording" "$tmp/verify" || fail=1
cat "$tmp/info" "$tmp/verify"
[ $fail = 0 ] && echo "PASS: trace info/dump/verify"
exit $fail

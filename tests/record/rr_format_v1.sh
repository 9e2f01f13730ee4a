#!/bin/bash
# rr_format_v1.sh RRVM TRACE_EDIT KERNEL: traces of format version 1 (absolute icounts and
# TSC values; version 2 stores differences within a chunk) still replay: a recording is
# rewritten as version 1 by trace_edit, both say their version in `rrvm trace info`, both
# replay to the recorded digest with the recorded output, and `trace dump` lists the same
# events for both.
set -u
rrvm=$1 edit=$2 kernel=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
"$rrvm" record -o "$tmp/v2.rrvm" -kernel "$kernel" </dev/null >"$tmp/rec.out" 2>"$tmp/rec.err"
"$edit" "$tmp/v2.rrvm" "$tmp/v1.rrvm" v1 || { echo "FAIL: trace_edit v1"; exit 1; }
for v in 1 2; do
  "$rrvm" trace info "$tmp/v$v.rrvm" >"$tmp/info$v" || { echo "FAIL: trace info v$v"; fail=1; }
  grep -q "^format version: *$v$" "$tmp/info$v" || { echo "FAIL: trace info does not say version $v"; fail=1; }
  grep -E "^(events|  TSC|  interrupts|events size)" "$tmp/info$v"
  "$rrvm" replay "$tmp/v$v.rrvm" </dev/null >"$tmp/rep$v.out" 2>"$tmp/rep$v.err"
  grep -q "matches the recording" "$tmp/rep$v.err" || { echo "FAIL: version $v replay:"; cat "$tmp/rep$v.err"; fail=1; }
  cmp -s "$tmp/rec.out" "$tmp/rep$v.out" || { echo "FAIL: version $v replay output differs"; fail=1; }
  "$rrvm" trace dump "$tmp/v$v.rrvm" >"$tmp/dump$v" 2>&1 || { echo "FAIL: trace dump v$v"; fail=1; }
done
grep -qE "TSC reads +[1-9]" "$tmp/info2" || { echo "FAIL: the recording has no TSC reads to encode"; fail=1; }
cmp -s "$tmp/dump1" "$tmp/dump2" || { echo "FAIL: the two versions dump different events"; diff "$tmp/dump1" "$tmp/dump2" | head; fail=1; }
s1=$(stat -c %s "$tmp/v1.rrvm") s2=$(stat -c %s "$tmp/v2.rrvm")
echo "file sizes: version 1 $s1 bytes, version 2 $s2 bytes"
[ "$s2" -lt "$s1" ] || { echo "FAIL: version 2 is not smaller"; fail=1; }
[ $fail = 0 ] && echo "PASS: format version 1 traces replay; version 2 lists the same events"
exit $fail

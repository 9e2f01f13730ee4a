#!/bin/bash
# rr_roundtrip.sh RRVM KERNEL INPUT [rrvm run args...]
# Records KERNEL (INPUT: a file fed to COM1, or - for none), replays the trace, and checks
# that the replay prints exactly what the recording printed, ends with the same exit status
# and reports that the final state digest matches.
set -u
rrvm=$1 kernel=$2 input=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ "$input" = - ] && input=/dev/null
timeout 120 "$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" "$@" <"$input" >"$tmp/rec.out" 2>"$tmp/rec.err"
rs=$?
timeout 120 "$rrvm" replay "$tmp/t.rrvm" </dev/null >"$tmp/rep.out" 2>"$tmp/rep.err"
ps=$?
fail=0
if [ $rs = 124 ]; then echo "FAIL: recording timed out"; fail=1; fi
if ! cmp -s "$tmp/rec.out" "$tmp/rep.out"; then
  echo "FAIL: replay output differs from the recording's"
  diff -u "$tmp/rec.out" "$tmp/rep.out" | head -n 20
  fail=1
fi
if [ -n "${RR_EXPECT:-}" ] && ! grep -qF "$RR_EXPECT" "$tmp/rep.out"; then
  echo "FAIL: the replay's output lacks '$RR_EXPECT'"
  fail=1
fi
if [ $rs != $ps ]; then echo "FAIL: exit status: recording $rs, replay $ps"; fail=1; fi
if ! grep -q "final state digest [0-9a-f]* matches the recording" "$tmp/rep.err"; then
  echo "FAIL: replay did not confirm the final state digest"
  fail=1
fi
if [ $fail != 0 ]; then
  echo "--- record stderr:"; tail -n 5 "$tmp/rec.err"
  echo "--- replay stderr:"; tail -n 5 "$tmp/rep.err"
  exit 1
fi
echo "PASS: $(basename "$kernel"): $(wc -c <"$tmp/rec.out") bytes of output replayed, status $rs; $(tail -n 1 "$tmp/rep.err" | sed 's/^rrvm: //')"

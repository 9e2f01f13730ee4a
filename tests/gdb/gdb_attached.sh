#!/bin/bash
# gdb_attached.sh RRVM KERNEL: `rrvm replay FILE` on a terminal starts gdb attached to the
# replay, as `rr replay` does, with the symbols embedded in the trace at record time: run
# from a directory holding nothing but the trace (the kernel is not needed).
set -u
rrvm=$1 kernel=$2
command -v gdb >/dev/null || { echo "GDB NOT AVAILABLE: test not run"; exit 77; }
command -v script >/dev/null || { echo "script(1) NOT AVAILABLE: test not run"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rrvm" record -o "$tmp/only.rrvm" -kernel "$kernel" </dev/null >/dev/null 2>&1
"$rrvm" trace info "$tmp/only.rrvm" | grep -q "^symbols: .* embedded" || { echo "FAIL: no embedded symbols"; exit 1; }
mkdir "$tmp/elsewhere"
cd "$tmp/elsewhere" || exit 1
ls -d /tmp/rrvm-replay-* 2>/dev/null | sort >"$tmp/before"
printf 'break score\ncontinue\nbacktrace 2\nreverse-stepi\nprint $pc\nkill\ny\nquit\n' |
  TERM=dumb timeout 60 script -qfec "$rrvm replay $tmp/only.rrvm" /dev/null >"$tmp/out" 2>&1
sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$tmp/out" >"$tmp/clean"
cat "$tmp/clean" | tail -n 15
grep -q "Breakpoint 1, score (n=" "$tmp/clean" || { echo "FAIL: no breakpoint by symbol under the attached gdb"; exit 1; }
grep -qE "#1 .* walk \(" "$tmp/clean" || { echo "FAIL: no backtrace"; exit 1; }
ls -d /tmp/rrvm-replay-* 2>/dev/null | sort >"$tmp/after"
# (another test running at the same time may have one open: only a leftover of ours counts)
if comm -13 "$tmp/before" "$tmp/after" | while read -r d; do [ -e "$d" ] && echo "$d"; done |
  grep -q .; then
  sleep 2
  comm -13 "$tmp/before" "$tmp/after" | while read -r d; do [ -e "$d" ] && echo "$d"; done |
    grep -q . && { echo "FAIL: the symbols taken out of the trace were left in /tmp"; exit 1; }
fi
echo "PASS: rrvm replay started gdb with the embedded symbols"

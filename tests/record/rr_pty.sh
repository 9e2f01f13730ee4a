#!/bin/bash
# rr_pty.sh RRVM KERNEL: serial input typed through a pseudo-terminal (script(1) gives rrvm
# a pty as standard input, so the console is in raw mode) is recorded as it reaches the
# UART; the replay, with no input at all, prints the same echo lines.
set -u
rrvm=$1 kernel=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# type the two lines slowly, as a person would, after the guest has started
{ sleep 0.3; printf 'typed\r'; sleep 0.2; printf 'on a pty\r'; sleep 3; } |
  script -qfec "$rrvm record -o $tmp/t.rrvm -kernel $kernel -append echo=2" /dev/null >"$tmp/rec.raw" 2>&1
tr -d '\r' <"$tmp/rec.raw" | grep '^echo: ' >"$tmp/rec.echo"
cat "$tmp/rec.echo"
grep -q "echo: typed" "$tmp/rec.echo" || { echo "FAIL: the guest did not receive the typed line"; cat "$tmp/rec.raw"; exit 1; }
"$rrvm" replay "$tmp/t.rrvm" </dev/null >"$tmp/rep.out" 2>"$tmp/rep.err"
grep '^echo: ' "$tmp/rep.out" >"$tmp/rep.echo"
cat "$tmp/rep.err"
cmp -s "$tmp/rec.echo" "$tmp/rep.echo" || { echo "FAIL: replayed echo lines differ"; diff "$tmp/rec.echo" "$tmp/rep.echo"; exit 1; }
grep -q "matches the recording" "$tmp/rep.err" || { echo "FAIL: digest"; exit 1; }
echo "PASS: pty input recorded and replayed"

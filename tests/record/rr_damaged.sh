#!/bin/bash
# rr_damaged.sh RRVM KERNEL: a trace with one byte of its event data altered must be
# rejected with a clear message (checksum or divergence) and exit status 6, never a crash
# or a silent replay.
set -u
rrvm=$1 kernel=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rrvm" record -o "$tmp/t.rrvm" -kernel "$kernel" </dev/null >/dev/null 2>&1
size=$(stat -c %s "$tmp/t.rrvm")
# the event chunks sit between the RAM image and the index at the end (32 + 28 bytes per
# chunk): alter a byte of the last chunk's compressed data, just before the index
chunks=$("$rrvm" trace info "$tmp/t.rrvm" | sed -n 's/^events: .* in \([0-9]*\) chunks/\1/p')
off=$((size - 32 - 28 * chunks - 10))
cp "$tmp/t.rrvm" "$tmp/bad.rrvm"
orig=$(od -An -tu1 -j "$off" -N1 "$tmp/bad.rrvm" | tr -d ' ')
printf "$(printf '\\%03o' $(( (orig ^ 0x5a) & 255 )))" | dd of="$tmp/bad.rrvm" bs=1 seek="$off" conv=notrunc 2>/dev/null
"$rrvm" replay "$tmp/bad.rrvm" </dev/null >/dev/null 2>"$tmp/err"
st=$?
cat "$tmp/err"
if [ $st != 6 ]; then echo "FAIL: exit status $st, expected 6"; exit 1; fi
if ! grep -qE "checksum|diverged|damaged" "$tmp/err"; then echo "FAIL: no clear message"; exit 1; fi
echo "PASS: altered byte at offset $off rejected"

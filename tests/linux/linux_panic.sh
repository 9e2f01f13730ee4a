#!/bin/bash
# linux_panic.sh RRVM SRCDIR BUNDLEDIR: a kernel panic (echo c > /proc/sysrq-trigger) is
# recorded (panic=1: the kernel reboots a second later, which ends the recording), replays
# to the panic, and gdb goes backwards from panic() to the function that called it
# (sysrq_handle_crash, its address from the guest's /proc/kallsyms).
set -u
rrvm=$1 src=$2 bundle=$3
if [ ! -f "$bundle/bzImage" ]; then
  bash "$src/tools/make-linux-bundle.sh" "$bundle" || { echo "FAIL: cannot build the Linux bundle"; exit 1; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{ sleep 20
  printf 'grep -E " [Tt] (sysrq_handle_crash|panic)$" /proc/kallsyms\n'
  printf 'echo c > /proc/sysrq-trigger\n'
  sleep 30; } |
  timeout 300 "$rrvm" record -o "$tmp/p.rrvm" -m 256 -kernel "$bundle/bzImage" \
    -initrd "$bundle/initramfs.cpio.gz" -append "console=ttyS0 quiet panic=1" >"$tmp/rec.out" 2>"$tmp/rec.err"
tr -d '\r' <"$tmp/rec.out" >"$tmp/rec.txt"
tail -n 3 "$tmp/rec.err"
grep -q "Kernel panic - not syncing: sysrq triggered crash" "$tmp/rec.txt" || { echo "FAIL: no panic recorded"; exit 1; }
crash=$(sed -n 's/^\([0-9a-f]\{8\}\) [Tt] sysrq_handle_crash$/\1/p' "$tmp/rec.txt" | head -n 1)
panic=$(sed -n 's/^\([0-9a-f]\{8\}\) [Tt] panic$/\1/p' "$tmp/rec.txt" | head -n 1)
[ -n "$crash" ] && [ -n "$panic" ] || { echo "FAIL: no kallsyms addresses"; exit 1; }
cat >"$tmp/g" <<G
set pagination off
set confirm off
target remote | $rrvm replay --gdb-pipe $tmp/p.rrvm
break *0x$panic
continue
printf "at-panic %x\\n", \$pc
break *0x$crash
reverse-continue
printf "back-in %x\\n", \$pc
G
timeout 600 gdb -q -batch -nx -x "$tmp/g" >"$tmp/gdb.out" 2>&1
grep -E "^(at-panic|back-in) " "$tmp/gdb.out"
grep -q "^at-panic $panic" "$tmp/gdb.out" || { echo "FAIL: replay did not reach panic()"; tail "$tmp/gdb.out"; exit 1; }
grep -q "^back-in $crash" "$tmp/gdb.out" || { echo "FAIL: reverse-continue did not reach sysrq_handle_crash"; exit 1; }
echo "PASS: recorded panic replayed, reverse execution back to its cause"

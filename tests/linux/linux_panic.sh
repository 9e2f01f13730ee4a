#!/bin/bash
# linux_panic.sh RRVM SRCDIR BUNDLEDIR: a kernel panic (echo c > /proc/sysrq-trigger) is
# recorded with the kernel's symbols embedded (record --symbols vmlinux.sym; panic=1: the
# kernel reboots a second later, which ends the recording), replays to the panic, and gdb,
# started by `rrvm replay FILE --gdb` with the trace's symbols, breaks in panic() by name
# and goes backwards to the function that called it (sysrq_handle_crash), naming both.
# The kernel boots with nokaslr so that it sits at the addresses of its System.map.
set -u
rrvm=$1 src=$2 bundle=$3
bash "$src/tools/make-linux-bundle.sh" --if-needed "$bundle" "$rrvm" ||
  { echo "FAIL: cannot build the Linux bundle"; exit 1; }
[ -f "$bundle/vmlinux.sym" ] || { echo "FAIL: the bundle has no vmlinux.sym"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
map_address() { awk -v f="$1" '$3 == f && ($2 == "t" || $2 == "T") { print $1; exit }' "$bundle/System.map"; }
crash=$(map_address sysrq_handle_crash)
panic=$(map_address panic)
[ -n "$crash" ] && [ -n "$panic" ] || { echo "FAIL: sysrq_handle_crash or panic not in System.map"; exit 1; }
echo "System.map: panic at 0x$panic, sysrq_handle_crash at 0x$crash"

{ sleep 20
  printf 'echo c > /proc/sysrq-trigger\n'
  sleep 30; } |
  timeout 300 "$rrvm" record -o "$tmp/p.rrvm" --symbols "$bundle/vmlinux.sym" -m 256 \
    -kernel "$bundle/bzImage" -initrd "$bundle/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=1 nokaslr" >"$tmp/rec.out" 2>"$tmp/rec.err"
tr -d '\r' <"$tmp/rec.out" >"$tmp/rec.txt"
tail -n 3 "$tmp/rec.err"
grep -q "Kernel panic - not syncing: sysrq triggered crash" "$tmp/rec.txt" || { echo "FAIL: no panic recorded"; exit 1; }

cat >"$tmp/g" <<'G'
set pagination off
break panic
continue
printf "at-panic %x\n", $pc
info symbol $pc
bt 3
break sysrq_handle_crash
reverse-continue
printf "back-in %x\n", $pc
info symbol $pc
bt 24
G
(cd "$tmp" && timeout 600 "$rrvm" replay p.rrvm --gdb <"$tmp/g" >"$tmp/gdb.raw" 2>&1)
# gdb reading commands from a file prints its prompt before each command's output
sed 's/^\((gdb) \)*//' "$tmp/gdb.raw" >"$tmp/gdb.out"
symdir=$(sed -n 's|^rrvm: replaying .* with symbols \(/tmp/rrvm-replay-[A-Za-z0-9]*\)/.*|\1|p' "$tmp/gdb.out")
[ -n "$symdir" ] && rm -rf "$symdir" # rrvm execs gdb and leaves the extracted file behind
grep -E "^(Breakpoint [12] at|at-panic|back-in|panic|sysrq_handle_crash|#[0-9]) " "$tmp/gdb.out"
grep -q "^at-panic $panic$" "$tmp/gdb.out" || { echo "FAIL: replay did not reach panic()"; tail "$tmp/gdb.out"; exit 1; }
grep -q "^panic in section \.text$" "$tmp/gdb.out" || { echo "FAIL: info symbol does not name panic"; exit 1; }
grep -q "^back-in $crash$" "$tmp/gdb.out" || { echo "FAIL: reverse-continue did not reach sysrq_handle_crash"; exit 1; }
grep -q "^sysrq_handle_crash in section \.text$" "$tmp/gdb.out" ||
  { echo "FAIL: info symbol does not name sysrq_handle_crash"; exit 1; }
grep -qE "^#1 +0x[0-9a-f]+ in sysrq_handle_crash \(\)$" "$tmp/gdb.out" ||
  { echo "FAIL: the backtrace at panic() does not show sysrq_handle_crash calling it"; exit 1; }
# from the crash handler back through the write(2) of /proc/sysrq-trigger to the kernel
# entry (vmlinux.sym's frame descriptions, tools/frame_cfi.c)
for f in write_sysrq_trigger vfs_write ksys_write; do
  grep -qE "^#[0-9]+ +0x[0-9a-f]+ in $f \(\)$" "$tmp/gdb.out" ||
    { echo "FAIL: the backtrace at sysrq_handle_crash lacks $f"; exit 1; }
done
last=$(grep -E "^#[0-9]+ " "$tmp/gdb.out" | tail -n 1)
[[ "$last" =~ in\ entry_(SYSENTER|INT80)_32\ \(\)$ ]] ||
  { echo "FAIL: the backtrace does not end at the kernel entry (last frame: $last)"; exit 1; }
grep -qE "^#[0-9]+ .* in \?\? \(\)$|^Backtrace stopped" "$tmp/gdb.out" &&
  { echo "FAIL: unnamed frames or a broken chain in the backtrace"; exit 1; }
echo "PASS: recorded panic replayed, reverse execution back to its cause, by symbol"

#!/bin/bash
# linux_session.sh RRVM SRCDIR BUNDLEDIR: Debian's 686 kernel with a busybox initramfs
# (tools/make-linux-bundle.sh, fetched from Debian's registry if not there yet):
#   1. boots to the shell and runs a scripted session on the serial console: commands,
#      pipes, fork/exec loops, a file written and read in tmpfs, then poweroff -f;
#   2. the same session recorded and replayed: identical output and final digest;
#   3. gdb on the replay: a breakpoint in a kernel function (its address from the guest's
#      own /proc/kallsyms, printed during the session, since Debian's System.map is a
#      placeholder), then reverse-stepi and reverse-continue inside the kernel.
set -u
rrvm=$1 src=$2 bundle=$3
if [ ! -f "$bundle/bzImage" ]; then
  bash "$src/tools/make-linux-bundle.sh" "$bundle" || { echo "FAIL: cannot build the Linux bundle"; exit 1; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
args=(-m 256 -kernel "$bundle/bzImage" -initrd "$bundle/initramfs.cpio.gz" -append "console=ttyS0 panic=-1 quiet")
script() {
  sleep 20
  printf 'echo session-start\n'
  printf 'echo hello | tr a-z A-Z 2>/dev/null || echo hello\n'
  printf 'uname -sr\n'
  printf 'i=0; while [ $i -lt 20 ]; do /bin/true; i=$((i+1)); done; echo forked $i\n'
  printf 'seq 1 1000 | grep -c 5\n'
  printf 'echo written-in-tmpfs > /tmp/f; cat /tmp/f\n'
  printf 'grep -E " [Tt] do_sys_openat2$" /proc/kallsyms\n'
  printf 'echo session-end\n'
  printf 'poweroff -f\n'
}
script | timeout 300 "$rrvm" record -o "$tmp/l.rrvm" "${args[@]}" >"$tmp/rec.out" 2>"$tmp/rec.err"
rs=$?
cat "$tmp/rec.out" | tail -n 20
tr -d '\r' <"$tmp/rec.out" >"$tmp/rec.txt"
for want in "session-start" "Linux 6.1" "forked 20" "^271$" "written-in-tmpfs" "session-end" "reboot: System halted"; do
  grep -qE "$want" "$tmp/rec.txt" || { echo "FAIL: session output lacks /$want/"; fail=1; }
done
timeout 300 "$rrvm" replay "$tmp/l.rrvm" </dev/null >"$tmp/rep.out" 2>"$tmp/rep.err"
ps=$?
cat "$tmp/rep.err"
cmp -s "$tmp/rec.out" "$tmp/rep.out" || { echo "FAIL: replay output differs"; fail=1; }
grep -q "matches the recording" "$tmp/rep.err" || { echo "FAIL: final digest"; fail=1; }
[ $rs = $ps ] || { echo "FAIL: status $rs vs $ps"; fail=1; }
addr=$(sed -n 's/^\([0-9a-f]\{8\}\) [Tt] do_sys_openat2$/\1/p' "$tmp/rec.txt" | head -n 1)
if [ -z "$addr" ]; then
  echo "FAIL: no do_sys_openat2 address from /proc/kallsyms"; fail=1
else
  cat >"$tmp/g" <<G
set pagination off
set confirm off
target remote | $rrvm replay --gdb-pipe $tmp/l.rrvm
break *0x$addr
continue
printf "hit1 %x %u\\n", \$pc, \$icount
continue
printf "hit2 %x %u\\n", \$pc, \$icount
stepi
stepi
printf "fwd %x %u\\n", \$pc, \$icount
reverse-stepi
reverse-stepi
printf "back %x %u\\n", \$pc, \$icount
reverse-continue
printf "rc %x %u\\n", \$pc, \$icount
G
  timeout 600 gdb -q -batch -nx -x "$tmp/g" >"$tmp/gdb.out" 2>&1
  grep -E "^(hit|fwd|back|rc) " "$tmp/gdb.out"
  h1=$(sed -n 's/^hit1 //p' "$tmp/gdb.out"); h2=$(sed -n 's/^hit2 //p' "$tmp/gdb.out")
  bk=$(sed -n 's/^back //p' "$tmp/gdb.out"); rc=$(sed -n 's/^rc //p' "$tmp/gdb.out")
  [ "${h1%% *}" = "$addr" ] || { echo "FAIL: breakpoint in the kernel not hit"; fail=1; }
  [ -n "$bk" ] && [ "$bk" = "$h2" ] || { echo "FAIL: reverse-stepi x2 did not return to the second hit ($bk vs $h2)"; fail=1; }
  [ -n "$rc" ] && [ "$rc" = "$h1" ] || { echo "FAIL: reverse-continue did not return to the first hit ($rc vs $h1)"; fail=1; }
fi
[ $fail = 0 ] && echo "PASS: Linux session, record/replay and reverse debugging in the kernel"
exit $fail

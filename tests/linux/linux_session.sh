#!/bin/bash
# linux_session.sh RRVM SRCDIR BUNDLEDIR: Debian's 686 kernel with a busybox initramfs
# (tools/make-linux-bundle.sh, fetched from Debian's registry if not there yet, with the
# kernel's real System.map and vmlinux.sym rebuilt from its /proc/kallsyms):
#   1. boots to the shell and runs a scripted session on the serial console: commands,
#      pipes, fork/exec loops, a file written and read in tmpfs, then poweroff -f; recorded
#      with the symbols embedded (record --symbols vmlinux.sym);
#   2. the replay prints the same output and final digest;
#   3. `rrvm replay FILE --gdb` (gdb with the symbols taken from the trace, commands on its
#      standard input) breaks in a kernel function from System.map by name, then
#      reverse-stepi and reverse-continue inside the kernel, naming the functions;
#   4. on a pseudo-terminal, as a person types: Ctrl-C interrupts a foreground command,
#      Ctrl-Z/bg/jobs/kill %1/fg job control, poweroff -f; then a recorded terminal session
#      with Ctrl-C, ended by Ctrl-A x, replays to the same output.
# The kernel boots with nokaslr so that it sits at the addresses of its System.map.
set -u
rrvm=$1 src=$2 bundle=$3
bash "$src/tools/make-linux-bundle.sh" --if-needed "$bundle" "$rrvm" ||
  { echo "FAIL: cannot build the Linux bundle"; exit 1; }
[ -f "$bundle/vmlinux.sym" ] || { echo "FAIL: the bundle has no vmlinux.sym"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
phase() { echo "--- $1 (at ${SECONDS}s)"; }

# the kernel function to debug, as System.map gives it
func=do_sys_openat2
addr=$(awk -v f=$func '$3 == f && ($2 == "t" || $2 == "T") { print $1; exit }' "$bundle/System.map")
[ -n "$addr" ] || { echo "FAIL: $func is not in $bundle/System.map"; exit 1; }
echo "$func at 0x$addr (System.map)"

phase "1. recorded session"
args=(-m 256 -kernel "$bundle/bzImage" -initrd "$bundle/initramfs.cpio.gz"
      -append "console=ttyS0 panic=-1 quiet nokaslr")
script() {
  sleep 20
  printf 'echo session-start\n'
  printf 'echo hello | tr a-z A-Z 2>/dev/null || echo hello\n'
  printf 'uname -sr\n'
  printf 'i=0; while [ $i -lt 20 ]; do /bin/true; i=$((i+1)); done; echo forked $i\n'
  printf 'seq 1 1000 | grep -c 5\n'
  printf 'echo written-in-tmpfs > /tmp/f; cat /tmp/f\n'
  printf 'grep -E " [Tt] %s$" /proc/kallsyms\n' "$func"
  printf 'echo session-end\n'
  printf 'poweroff -f\n'
}
script | timeout 300 "$rrvm" record -o "$tmp/l.rrvm" --symbols "$bundle/vmlinux.sym" "${args[@]}" \
  >"$tmp/rec.out" 2>"$tmp/rec.err"
rs=$?
tail -n 12 "$tmp/rec.out"
tr -d '\r' <"$tmp/rec.out" >"$tmp/rec.txt"
for want in "session-start" "Linux 6.1" "forked 20" "^271$" "written-in-tmpfs" "session-end" "reboot: (System halted|Power down)"; do
  grep -qE "$want" "$tmp/rec.txt" || { echo "FAIL: session output lacks /$want/"; fail=1; }
done
# the running kernel is the one System.map describes (not moved by KASLR)
grep -qx "$addr [Tt] $func" "$tmp/rec.txt" ||
  { echo "FAIL: /proc/kallsyms in the guest does not put $func at 0x$addr"; fail=1; }
"$rrvm" trace info "$tmp/l.rrvm" >"$tmp/info"
grep -q "^symbols: *vmlinux.sym embedded" "$tmp/info" ||
  { echo "FAIL: vmlinux.sym not embedded in the trace"; grep symbols "$tmp/info"; fail=1; }

phase "2. replay"
timeout 300 "$rrvm" replay "$tmp/l.rrvm" </dev/null >"$tmp/rep.out" 2>"$tmp/rep.err"
ps=$?
cat "$tmp/rep.err"
cmp -s "$tmp/rec.out" "$tmp/rep.out" || { echo "FAIL: replay output differs"; fail=1; }
grep -q "matches the recording" "$tmp/rep.err" || { echo "FAIL: final digest"; fail=1; }
[ $rs = $ps ] || { echo "FAIL: status $rs vs $ps"; fail=1; }

phase "3. gdb on the replay with the trace's symbols"
# from a directory holding only the trace: every name comes from the embedded symbols
mkdir "$tmp/elsewhere" && mv "$tmp/l.rrvm" "$tmp/elsewhere/"
cat >"$tmp/g" <<'G'
set pagination off
break FUNC
continue
printf "hit1 %x %lu\n", $pc, $icount
info symbol $pc
continue
printf "hit2 %x %lu\n", $pc, $icount
stepi
stepi
printf "fwd %x %lu\n", $pc, $icount
info symbol $pc
reverse-stepi
reverse-stepi
printf "back %x %lu\n", $pc, $icount
info symbol $pc
reverse-continue
printf "rc %x %lu\n", $pc, $icount
info symbol $pc
bt 16
G
sed -i "s/FUNC/$func/" "$tmp/g"
(cd "$tmp/elsewhere" && timeout 600 "$rrvm" replay l.rrvm --gdb <"$tmp/g" >"$tmp/gdb.raw" 2>&1)
# gdb reading commands from a file prints its prompt before each command's output
sed 's/^\((gdb) \)*//' "$tmp/gdb.raw" >"$tmp/gdb.out"
symdir=$(sed -n 's|^rrvm: replaying .* with symbols \(/tmp/rrvm-replay-[A-Za-z0-9]*\)/.*|\1|p' "$tmp/gdb.out")
[ -n "$symdir" ] && rm -rf "$symdir" # rrvm execs gdb and leaves the extracted file behind
grep -E "^(Breakpoint 1|hit[12]|fwd|back|rc|$func|#[0-9]) " "$tmp/gdb.out"
grep -q "^rrvm: replaying l.rrvm under gdb with symbols .*vmlinux.sym" "$tmp/gdb.out" ||
  { echo "FAIL: rrvm replay --gdb did not start gdb with the embedded vmlinux.sym"; fail=1; }
h1=$(sed -n 's/^hit1 //p' "$tmp/gdb.out"); h2=$(sed -n 's/^hit2 //p' "$tmp/gdb.out")
bk=$(sed -n 's/^back //p' "$tmp/gdb.out"); rc=$(sed -n 's/^rc //p' "$tmp/gdb.out")
grep -q "^Breakpoint 1 at 0x$addr$" "$tmp/gdb.out" ||
  { echo "FAIL: break $func did not resolve to 0x$addr"; fail=1; }
[ "${h1%% *}" = "$addr" ] || { echo "FAIL: breakpoint in the kernel not hit"; fail=1; }
[ -n "$bk" ] && [ "$bk" = "$h2" ] || { echo "FAIL: reverse-stepi x2 did not return to the second hit ($bk vs $h2)"; fail=1; }
[ -n "$rc" ] && [ "$rc" = "$h1" ] || { echo "FAIL: reverse-continue did not return to the first hit ($rc vs $h1)"; fail=1; }
[ "$(grep -c "^$func in section \.text$" "$tmp/gdb.out")" = 3 ] ||
  { echo "FAIL: info symbol \$pc does not name $func at the hits"; fail=1; }
grep -q "^$func + [0-9]* in section \.text$" "$tmp/gdb.out" ||
  { echo "FAIL: info symbol \$pc after stepi does not name $func"; fail=1; }
grep -qE "^#0 +0x$addr in $func \(\)$" "$tmp/gdb.out" || { echo "FAIL: no backtrace frame in $func"; fail=1; }
caller=$(sed -n 's/^#1 \+0x[0-9a-f]* in \([A-Za-z0-9_.]*\) ()$/\1/p' "$tmp/gdb.out")
[ -n "$caller" ] && grep -qE "^[0-9a-f]{8} [tT] $caller$" "$bundle/System.map" ||
  { echo "FAIL: the backtrace does not name the kernel function calling $func"; fail=1; }
# the whole chain, through the system-call dispatch to the entry code, where it ends
# (vmlinux.sym's frame descriptions: tools/frame_cfi.c)
grep -qE "^#[0-9]+ +0x[0-9a-f]+ in (__)?do_(fast_syscall|SYSENTER|int80_syscall)_32 \(\)$" "$tmp/gdb.out" ||
  { echo "FAIL: the backtrace does not reach the system-call dispatcher"; fail=1; }
last=$(grep -E "^#[0-9]+ " "$tmp/gdb.out" | tail -n 1)
[[ "$last" =~ in\ entry_(SYSENTER|INT80)_32\ \(\)$ ]] ||
  { echo "FAIL: the backtrace does not end at the kernel entry (last frame: $last)"; fail=1; }
if grep -qE "^#[0-9]+ .* in \?\? \(\)$|^Backtrace stopped" "$tmp/gdb.out"; then
  echo "FAIL: unnamed frames or a broken chain in the backtrace"
  fail=1
fi

phase "3b. backtraces through an exception into the interrupted context"
# exc_page_fault(regs, error_code): regs in EAX (regparm); regs->cs at 52, regs->ip at 48.
# The first page fault in kernel mode: bt goes from the handler through handle_exception
# into the faulting function and on to the boot code; then the first in user mode: bt
# shows the user PC and ends there.
cat >"$tmp/g2" <<'G'
set pagination off
break exc_page_fault if (*(unsigned *)($eax + 52) & 3) == 0
continue
printf "kfault %x\n", *(unsigned *)($eax + 48)
info symbol *(unsigned *)($eax + 48)
bt 40
delete
break exc_page_fault if (*(unsigned *)($eax + 52) & 3) == 3
continue
printf "ufault %x\n", *(unsigned *)($eax + 48)
bt 40
G
(cd "$tmp/elsewhere" && timeout 600 "$rrvm" replay l.rrvm --gdb <"$tmp/g2" >"$tmp/gdb2.raw" 2>&1)
sed 's/^\((gdb) \)*//' "$tmp/gdb2.raw" >"$tmp/gdb2.out"
symdir=$(sed -n 's|^rrvm: replaying .* with symbols \(/tmp/rrvm-replay-[A-Za-z0-9]*\)/.*|\1|p' "$tmp/gdb2.out")
[ -n "$symdir" ] && rm -rf "$symdir"
grep -E "^(kfault|ufault|#[0-9]+) |^Backtrace" "$tmp/gdb2.out"
kip=$(sed -n 's/^kfault //p' "$tmp/gdb2.out")
ksym=$(sed -n 's/^\([A-Za-z0-9_.]*\) + [0-9]* in section \.text$/\1/p' "$tmp/gdb2.out" | head -n 1)
uip=$(sed -n 's/^ufault //p' "$tmp/gdb2.out")
# the two backtraces: frames up to the line "ufault", then after it
awk '/^ufault /{u=1} /^#[0-9]+ /{print (u ? "U " : "K ") $0}' "$tmp/gdb2.out" >"$tmp/bt2"
grep -qE "^K #1 +0x[0-9a-f]+ in handle_exception \(\)$" "$tmp/bt2" ||
  { echo "FAIL: kernel-mode fault: no handle_exception frame"; fail=1; }
[ -n "$kip" ] && [ -n "$ksym" ] && grep -qE "^K #2 +0x0*$kip in $ksym \(\)$" "$tmp/bt2" ||
  { echo "FAIL: kernel-mode fault: frame 2 is not the faulting instruction ($kip in $ksym)"; fail=1; }
klast=$(grep "^K " "$tmp/bt2" | tail -n 1)
[[ "$klast" =~ in\ (startup_32_smp|startup_32|entry_SYSENTER_32|entry_INT80_32|ret_from_fork)\ \(\)$ ]] ||
  { echo "FAIL: kernel-mode fault: the backtrace does not end at boot or entry code ($klast)"; fail=1; }
grep -qE "^K .* in \?\? \(\)$" "$tmp/bt2" && { echo "FAIL: kernel-mode fault: unnamed frames"; fail=1; }
grep -qE "^U #1 +0x[0-9a-f]+ in handle_exception \(\)$" "$tmp/bt2" ||
  { echo "FAIL: user-mode fault: no handle_exception frame"; fail=1; }
ulast=$(grep "^U " "$tmp/bt2" | tail -n 1)
[ -n "$uip" ] && [[ "$ulast" =~ ^U\ \#2\ +0x0*$uip\ in\ \?\?\ \(\)$ ]] ||
  { echo "FAIL: user-mode fault: the backtrace does not end at the user PC $uip ($ulast)"; fail=1; }
grep -q "^Backtrace stopped" "$tmp/gdb2.out" && { echo "FAIL: a broken chain"; fail=1; }

phase "4. a terminal: Ctrl-C, job control, Ctrl-A x"
command -v python3 >/dev/null || { echo "FAIL: python3 is needed to drive a pseudo-terminal"; exit 1; }
# pty_session MODE TRANSCRIPT RRVM-ARGS...: runs rrvm with a pseudo-terminal as its
# controlling terminal, standard input and output, and types into it; MODE jobs or quit.
pty_session() {
  python3 - "$@" <<'PY'
import os, pty, re, select, signal, sys, time

mode, transcript_path, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
transcript = b""
mark = 0  # expect() looks for its pattern after the previous match only
status = None

def read_for(seconds):
    """Collects what rrvm writes to the terminal for up to `seconds`."""
    global transcript
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], max(0.0, min(0.2, end - time.time())))
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: rrvm exited and the terminal is gone
            data = b""
        if not data:
            time.sleep(0.05)
            return
        transcript += data

def exited():
    global status
    if status is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
    return status is not None

def fail(message):
    open(transcript_path, "wb").write(transcript)
    print("FAIL: terminal: " + message)
    print(transcript[-1500:].decode(errors="replace"))
    if not exited():
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    sys.exit(1)

def expect(pattern, timeout, what):
    global mark
    rx = re.compile(pattern)
    end = time.time() + timeout
    while True:
        match = rx.search(transcript, mark)
        if match:
            mark = match.end()
            return match
        if time.time() >= end or exited():
            fail("no %s (/%s/) within %d s" % (what, pattern.decode(), timeout))
        read_for(0.2)

def wait_exit(timeout, what):
    end = time.time() + timeout
    while not exited():
        if time.time() >= end:
            fail("rrvm still running %d s after %s" % (timeout, what))
        read_for(0.2)
    read_for(0.2)

def type_line(line, settle=0.0):
    os.write(fd, line + b"\r")  # Enter sends CR; the guest's tty turns it into NL
    read_for(settle)

def interrupted_status(tag):
    type_line(b"echo " + tag + b" $?")
    expect(tag + rb" 130\r*\n", 15, tag.decode() + " with status 130 (SIGINT)")
    expect(PROMPT, 15, "prompt")

PROMPT = rb"/ # "
expect(PROMPT, 120, "shell prompt after boot")
if b"job control turned off" in transcript:
    fail("the shell has no controlling terminal")
# Ctrl-C: raw mode on the host terminal passes 0x03 to the guest, whose tty sends SIGINT
# to the foreground job; the shell survives and prompts again
type_line(b"sleep 1000", 1.0)
os.write(fd, b"\x03")
expect(PROMPT, 15, "prompt after Ctrl-C")
interrupted_status(b"after-ctrl-c")
if mode == "jobs":
    # Ctrl-Z stops the foreground job, bg resumes it, jobs lists it, kill %1 ends it
    type_line(b"sleep 1000", 1.0)
    os.write(fd, b"\x1a")
    expect(rb"\[1\]\+ +Stopped +sleep 1000", 15, "job stopped by Ctrl-Z")
    expect(PROMPT, 15, "prompt")
    type_line(b"bg")
    expect(PROMPT, 15, "prompt after bg")
    type_line(b"jobs")
    expect(rb"\[1\]\+ +Running +sleep 1000", 15, "the resumed job in jobs")
    expect(PROMPT, 15, "prompt")
    type_line(b"kill %1; wait %1; echo killed $?")
    expect(rb"killed 143\r*\n", 15, "job ended by kill %1 (status 143)")
    expect(PROMPT, 15, "prompt")
    # a background job brought back by fg gets Ctrl-C
    type_line(b"sleep 1000 &")
    expect(PROMPT, 15, "prompt")
    type_line(b"jobs")
    expect(rb"\[1\]\+ +Running +sleep 1000", 15, "background job in jobs")
    expect(PROMPT, 15, "prompt")
    type_line(b"fg", 1.0)
    os.write(fd, b"\x03")
    expect(PROMPT, 15, "prompt after Ctrl-C in fg")
    interrupted_status(b"fg-interrupted")
    type_line(b"poweroff -f")
    expect(rb"reboot: (System halted|Power down)", 30, "poweroff")
    wait_exit(15, "poweroff -f")
else:
    # Ctrl-A x quits rrvm from the terminal, as in QEMU
    os.write(fd, b"\x01x")
    wait_exit(15, "Ctrl-A x")
    if b"rrvm: quit (Ctrl-A x)" not in transcript:
        fail("no quit message after Ctrl-A x")
    if status != 0:
        fail("status %d after Ctrl-A x" % status)
open(transcript_path, "wb").write(transcript)
print("terminal session (%s) passed, rrvm status %d" % (mode, status))
PY
}
pty_session jobs "$tmp/pty-jobs.txt" "$rrvm" run "${args[@]}" || fail=1
tr -d '\r' <"$tmp/pty-jobs.txt" | grep -aE "^(\^Z)?\[1\]|^(killed|after-ctrl-c|fg-interrupted) " | head -n 12
# a recorded terminal session: the Ctrl-C the guest got is in the trace
pty_session quit "$tmp/pty-quit.txt" "$rrvm" record -o "$tmp/t.rrvm" "${args[@]}" || fail=1
timeout 300 "$rrvm" replay "$tmp/t.rrvm" </dev/null >"$tmp/trep.out" 2>"$tmp/trep.err"
tail -n 1 "$tmp/trep.err"
grep -q "after-ctrl-c 130" "$tmp/trep.out" || { echo "FAIL: the replay lacks the Ctrl-C session"; fail=1; }
grep -q "matches the recording" "$tmp/trep.err" || { echo "FAIL: terminal session replay digest"; fail=1; }

echo "linux_session: ${SECONDS}s in all"
[ $fail = 0 ] && echo "PASS: Linux session, record/replay, reverse debugging in the kernel by symbol, terminal job control"
exit $fail

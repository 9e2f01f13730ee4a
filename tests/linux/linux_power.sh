#!/bin/bash
# linux_power.sh RRVM SRCDIR BUNDLEDIR: the ACPI platform under Debian's 686 kernel
# (tools/make-linux-bundle.sh, fetched from Debian's registry if not there yet):
#   1. a recorded session ending in `poweroff -f`: the kernel finds the ACPI tables and the
#      PM timer (no ACPI errors; the TSC is calibrated against the PM timer instead of "No
#      reference (HPET/PMTIMER) available"), prints "reboot: Power down", and rrvm ends with
#      "rrvm: guest powered off" and status 0; the replay has the same output and status;
#   2. `rrvm run` of a boot that powers off at once (the bundle's rrvm.bench=boot): status 0;
#   3. `reboot -f` under `rrvm run --no-reboot`: "rrvm: guest requested a reset", status 10;
#   4. a recording ends at a reset (status 10), and its replay ends there with status 10.
set -u
rrvm=$1 src=$2 bundle=$3
if [ ! -f "$bundle/bzImage" ]; then
  bash "$src/tools/make-linux-bundle.sh" "$bundle" || { echo "FAIL: cannot build the Linux bundle"; exit 1; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
boot=(-m 256 -kernel "$bundle/bzImage" -initrd "$bundle/initramfs.cpio.gz")
check() { # check FILE REGEX WHAT: FILE must match REGEX
  grep -qaE "$2" "$1" || { echo "FAIL: $3 (no /$2/ in $(basename "$1"))"; fail=1; }
}
check_not() { # check_not FILE REGEX WHAT: FILE must not match REGEX
  if grep -aE "$2" "$1"; then echo "FAIL: $3"; fail=1; fi
}

# replay_check NAME OUT WHAT END STATUS: replays $tmp/NAME.rrvm, whose recording printed
# $tmp/OUT.out: the same output, the recorded end END with a matching digest, status STATUS
replay_check() {
  local name=$1 out=$2 what=$3 end=$4 status=$5 ps
  timeout 300 "$rrvm" replay "$tmp/$name.rrvm" </dev/null >"$tmp/$name.rep.out" 2>"$tmp/$name.rep.err"
  ps=$?
  cat "$tmp/$name.rep.err"
  cmp -s "$tmp/$out.out" "$tmp/$name.rep.out" || { echo "FAIL: ${what}replay output differs"; fail=1; }
  check "$tmp/$name.rep.err" "recorded: $end.*matches the recording" "${what}replay end"
  [ $ps = "$status" ] || { echo "FAIL: ${what}replay status $ps, expected $status"; fail=1; }
}

# 1. boot messages (no "quiet"), a command, then poweroff -f; recorded, then replayed
script() {
  sleep 20
  printf 'echo power-test-start\n'
  printf 'poweroff -f\n'
  sleep 60
}
script | timeout 300 "$rrvm" record -o "$tmp/p.rrvm" "${boot[@]}" -append "console=ttyS0 panic=-1" \
  >"$tmp/rec.out" 2>"$tmp/rec.err"
rs=$?
tr -d '\r' <"$tmp/rec.out" >"$tmp/rec.txt"
grep -aE "ACPI|tsc:|PM-Timer|clocksource: Switched|reboot:" "$tmp/rec.txt"
cat "$tmp/rec.err"
[ $rs = 0 ] || { echo "FAIL: poweroff -f: status $rs, expected 0"; fail=1; }
check "$tmp/rec.err" "^rrvm: guest powered off$" "poweroff -f: no power-off message"
check "$tmp/rec.txt" "power-test-start" "the shell did not run the session"
check "$tmp/rec.txt" "reboot: Power down" "the kernel did not power down"
check "$tmp/rec.txt" "ACPI: RSDP 0x0+F0000 " "the kernel did not find the RSDP"
check "$tmp/rec.txt" "ACPI: FACP .*\(v03 RRVM" "no FADT"
check "$tmp/rec.txt" "ACPI: DSDT " "no DSDT"
check "$tmp/rec.txt" "ACPI: PM-Timer IO Port: 0x608" "no PM timer"
check "$tmp/rec.txt" "ACPI: Interpreter enabled" "the ACPI interpreter is not enabled"
check "$tmp/rec.txt" "ACPI: PM: \(supports S0 S5\)" "S5 is not supported"
check "$tmp/rec.txt" "tsc: Detected [0-9.]+ MHz processor" "the TSC was not calibrated"
check_not "$tmp/rec.txt" "ACPI (BIOS )?(Error|Warning)|ACPI Exception|valid RSDP was not found" \
  "ACPI errors in the boot log"
check_not "$tmp/rec.txt" "No reference \(HPET/PMTIMER\) available|could not calculate TSC khz" \
  "the TSC found no reference timer"
check_not "$tmp/rec.txt" "System halted" "the kernel halted instead of powering off"
replay_check p rec "" "powered off, status 0" 0

# 2. rrvm run: the bundle's init powers off at once with rrvm.bench=boot
timeout 300 "$rrvm" run "${boot[@]}" -append "console=ttyS0 quiet rrvm.bench=boot" </dev/null \
  >"$tmp/run.out" 2>"$tmp/run.err"
st=$?
cat "$tmp/run.err"
[ $st = 0 ] || { echo "FAIL: run to poweroff: status $st, expected 0"; fail=1; }
check "$tmp/run.err" "^rrvm: guest powered off$" "run to poweroff: no power-off message"

# 3. reboot -f with --no-reboot: the run ends at the reset (through the ACPI reset register)
{ sleep 20; printf 'reboot -f\n'; sleep 60; } |
  timeout 300 "$rrvm" run --no-reboot "${boot[@]}" -append "console=ttyS0 quiet" \
    >"$tmp/rb.out" 2>"$tmp/rb.err"
st=$?
tr -d '\r' <"$tmp/rb.out" >"$tmp/rb.txt"
tail -n 2 "$tmp/rb.txt"
cat "$tmp/rb.err"
[ $st = 10 ] || { echo "FAIL: reboot -f --no-reboot: status $st, expected 10"; fail=1; }
check "$tmp/rb.err" "^rrvm: guest requested a reset$" "reboot -f: no reset message"
check "$tmp/rb.txt" "reboot: Restarting system" "the kernel did not restart"
[ "$(grep -ac 'Linux version' "$tmp/rb.txt")" -le 1 ] || { echo "FAIL: rebooted despite --no-reboot"; fail=1; }

# 4. a recording ends at a reset; its replay ends there with the same status
timeout 300 "$rrvm" record -o "$tmp/r.rrvm" "${boot[@]}" \
  -append "console=ttyS0 quiet rrvm.bench=boot rrvm.end=reboot" </dev/null \
  >"$tmp/rr.out" 2>"$tmp/rr.err"
rs=$?
cat "$tmp/rr.err"
[ $rs = 10 ] || { echo "FAIL: recorded reset: status $rs, expected 10"; fail=1; }
check "$tmp/rr.err" "^rrvm: guest requested a reset$" "recorded reset: no reset message"
replay_check r rr "reset " "reset, status 10" 10

[ $fail = 0 ] && echo "PASS: ACPI power off, reset with --no-reboot, record/replay of both"
exit $fail

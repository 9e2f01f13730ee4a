#!/bin/bash
# bench/linux.sh [BUILD_DIR]: Debian's 686 kernel (tools/make-linux-bundle.sh) under rrvm
# (run and record) and qemu-system-i386 TCG in the same run: wall-clock time of
#   boot:  boot to the shell and power off at once
#   cpu:   the same plus a shell arithmetic loop (CPU-bound userland)
#   fork:  the same plus 300 fork/exec of /bin/true
# and the workloads' own times (minus boot). KVM is not used: the probe in tests/kvm shows
# this machine's KVM cannot run 32-bit paging guests.
set -u
build=${1:-build}
bundle=$build/linux
[ -f "$bundle/bzImage" ] && zcat "$bundle/initramfs.cpio.gz" | grep -aq rrvm.bench ||
  bash tools/make-linux-bundle.sh "$bundle" >/dev/null
qemu=${QEMU:-qemu-system-i386}
now() { date +%s.%N; }
run_vm() { # run_vm VM KIND -> seconds
  local t0 t1
  t0=$(now)
  local app="console=ttyS0 quiet rrvm.bench=$2"
  case $1 in
    rrvm) timeout 600 "$build/rrvm" run -m 256 -kernel "$bundle/bzImage" \
            -initrd "$bundle/initramfs.cpio.gz" -append "$app" </dev/null >/dev/null 2>&1 ;;
    record) timeout 600 "$build/rrvm" record -o /tmp/bench-linux.rrvm -m 256 \
              -kernel "$bundle/bzImage" -initrd "$bundle/initramfs.cpio.gz" \
              -append "$app" </dev/null >/dev/null 2>&1 ;;
    qemu) timeout 600 "$qemu" -m 256 -kernel "$bundle/bzImage" \
            -initrd "$bundle/initramfs.cpio.gz" -append "$app rrvm.end=reboot" -display none \
            -serial stdio -monitor none -no-reboot -accel tcg </dev/null >/dev/null 2>&1 ;;
  esac
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
printf '%-6s %10s %10s %10s %12s %10s\n' kind rrvm_s record_s qemu_s qemu/rrvm rec/run
declare -A T
for kind in boot cpu fork; do
  for vm in rrvm record qemu; do T[$vm.$kind]=$(run_vm $vm $kind); done
  printf '%-6s %10.2f %10.2f %10.2f %12.2f %10.2f\n' "$kind" "${T[rrvm.$kind]}" "${T[record.$kind]}" \
    "${T[qemu.$kind]}" "$(echo "${T[qemu.$kind]} / ${T[rrvm.$kind]}" | bc -l)" \
    "$(echo "${T[record.$kind]} / ${T[rrvm.$kind]}" | bc -l)"
done
for kind in cpu fork; do
  r=$(echo "${T[rrvm.$kind]} - ${T[rrvm.boot]}" | bc -l)
  q=$(echo "${T[qemu.$kind]} - ${T[qemu.boot]}" | bc -l)
  printf '%s workload alone: rrvm %.2f s, QEMU %.2f s, QEMU/rrvm %.2f\n' "$kind" "$r" "$q" "$(echo "$q / $r" | bc -l)"
done

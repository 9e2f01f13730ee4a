#!/bin/bash
# bench/linux.sh [BUILD_DIR]: Debian's 686 kernel (tools/make-linux-bundle.sh) under rrvm
# (run and record) and qemu-system-i386 TCG in the same run: wall-clock time of
#   boot:  boot to the shell and power off at once
#   cpu:   the same plus a shell arithmetic loop (CPU-bound userland)
#   fork:  the same plus 1000 fork/exec of /bin/true
# and the workloads' own times as the guest measures them (its uptime around them). KVM is not used: the probe in tests/kvm shows
# this machine's KVM cannot run 32-bit paging guests.
set -u
build=${1:-build}
bundle=$build/linux
bash tools/make-linux-bundle.sh --if-needed "$bundle" "$build/rrvm" >/dev/null ||
  { echo "linux.sh: cannot build the Linux bundle" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
qemu=${QEMU:-qemu-system-i386}
now() { date +%s.%N; }
run_vm() { # run_vm VM KIND -> "seconds workload_seconds" (the workload in guest uptime)
  local t0 t1 out=$tmp/$1.$2.out
  t0=$(now)
  local app="console=ttyS0 quiet nokaslr rrvm.bench=$2"
  case $1 in
    rrvm) timeout 600 "$build/rrvm" run -m 256 -kernel "$bundle/bzImage" \
            -initrd "$bundle/initramfs.cpio.gz" -append "$app" </dev/null >"$out" 2>&1 ;;
    record) timeout 600 "$build/rrvm" record -o "$tmp/bench-linux.rrvm" -m 256 \
              -kernel "$bundle/bzImage" -initrd "$bundle/initramfs.cpio.gz" \
              -append "$app" </dev/null >"$out" 2>&1 ;;
    qemu) timeout 600 "$qemu" -m 256 -kernel "$bundle/bzImage" \
            -initrd "$bundle/initramfs.cpio.gz" -append "$app rrvm.end=reboot" -display none \
            -serial stdio -monitor none -no-reboot -accel tcg </dev/null >"$out" 2>&1 ;;
  esac
  t1=$(now)
  local b e
  b=$(tr -d '\r' <"$out" | sed -n 's/^rrvm-bench-begin //p' | head -n 1)
  e=$(tr -d '\r' <"$out" | sed -n 's/^rrvm-bench-end //p' | head -n 1)
  echo "$(echo "$t1 - $t0" | bc -l) $( [ -n "$b" ] && [ -n "$e" ] && echo "$e - $b" | bc -l || echo nan)"
}
echo "# whole runs (boot to power-off), wall-clock seconds"
printf '%-6s %10s %10s %10s %12s %10s\n' kind rrvm_s record_s qemu_s qemu/rrvm rec/run
declare -A T W
for kind in boot cpu fork; do
  for vm in rrvm record qemu; do read -r T[$vm.$kind] W[$vm.$kind] < <(run_vm $vm $kind); done
  printf '%-6s %10.2f %10.2f %10.2f %12.2f %10.2f\n' "$kind" "${T[rrvm.$kind]}" "${T[record.$kind]}" \
    "${T[qemu.$kind]}" "$(echo "${T[qemu.$kind]} / ${T[rrvm.$kind]}" | bc -l)" \
    "$(echo "${T[record.$kind]} / ${T[rrvm.$kind]}" | bc -l)"
done
echo "# the workloads alone, measured by the guest (uptime around them), seconds"
echo "# cpu: a shell arithmetic loop of 200000 rounds; fork: 1000 fork/exec of /bin/true"
printf '%-6s %10s %10s %10s %12s %10s\n' kind rrvm_s record_s qemu_s qemu/rrvm rec/run
for kind in cpu fork; do
  r=${W[rrvm.$kind]} c=${W[record.$kind]} q=${W[qemu.$kind]}
  if [ "$r" = nan ] || [ "$c" = nan ] || [ "$q" = nan ]; then
    echo "$kind: a run did not print its workload markers (see the bundle's init)"
    continue
  fi
  printf '%-6s %10.2f %10.2f %10.2f %12.2f %10.2f\n' "$kind" "$r" "$c" "$q" \
    "$(echo "$q / $r" | bc -l)" "$(echo "$c / $r" | bc -l)"
done

#!/bin/bash
# bench/nanobench.sh [BUILD_DIR] [N]: the nanobenchmarks of Adams and Agesen's comparison
# (system call by INT 0x80 and SYSENTER, IN, OUT, CR3 write, page fault, page-table entry
# update + INVLPG) and a context-switch loop, in the minios_bench kernel, under rrvm and
# qemu-system-i386 TCG in the same run (tests/guests/minios/nanobench.sh does the work).
# KVM is not used: tests/kvm's probe shows this machine's KVM cannot run 32-bit paging
# guests. Prints ratios; no pass/fail.
set -u
build=${1:-build}
n=${2:-100000}
kernel=$build/tests/guests/minios/minios_bench.elf
[ -x "$build/rrvm" ] && [ -f "$kernel" ] ||
  { echo "nanobench.sh: build first (cmake --build $build)" >&2; exit 2; }
exec bash "$(dirname "$0")/../tests/guests/minios/nanobench.sh" "$build/rrvm" "$kernel" "$n"

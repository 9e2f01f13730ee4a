#!/usr/bin/env bash
# The first thing to run on a fresh Debian 12 machine (as root): installs the build
# dependencies, builds rrvm and its bundled guest kernels into build/, and boots the
# "hello" multiboot guest with its serial console on this terminal and --stats at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake -S . -B build
cmake --build build -j2

# The guest kernels are built by tests/guests/CMakeLists.txt; find hello's image wherever
# that puts it (normally build/tests/guests/hello.elf).
kernel=build/tests/guests/hello.elf
if [[ ! -f "$kernel" ]]; then
  kernel=$(find build/tests/guests -maxdepth 3 -type f \( -name 'hello.elf' -o -name 'hello' \
             -o -name 'hello.*.elf' -o -name 'hello*.elf' \) 2>/dev/null | sort | head -n 1 || true)
fi
if [[ -z "$kernel" || ! -f "$kernel" ]]; then
  echo "run-demo: the hello guest kernel was not built (looked under build/tests/guests)" >&2
  echo "run-demo: is RRVM_GUESTS on and gcc-multilib installed?" >&2
  exit 1
fi

cmd=(timeout 120 build/rrvm run -kernel "$kernel" --stats -append "console=ttyS0 hello from rrvm")
echo "run-demo: $(printf '%q ' "${cmd[@]}")"
status=0
"${cmd[@]}" || status=$?
# The guest ends by writing its kmain() result v to isa-debug-exit: status (v << 1) | 1, so
# a guest that returned 0 makes rrvm exit 1, as under qemu-system-i386.
if ((status == 1)); then
  echo "run-demo: the guest exited with code 0 (rrvm exit status 1): success"
  exit 0
fi
echo "run-demo: rrvm exited with status $status (see 'build/rrvm --help' for what it means)"
exit "$status"

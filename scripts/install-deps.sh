#!/usr/bin/env bash
# Installs the Debian 12 (bookworm) packages rrvm needs to build and test. Idempotent: it
# asks dpkg which are missing and touches apt only when something is. Needs root to install;
# as another user it lists what is missing and exits 1 (exit 0 if nothing is).
set -euo pipefail

PACKAGES=(
  build-essential     # gcc, make, libc headers
  gcc-multilib        # gcc -m32 for the freestanding guest kernels and native 32-bit oracles
  cmake
  pkg-config
  libzydis-dev        # x86 decoder/formatter used by the translator
  libcapstone-dev     # independent decoder to test against
  libcmocka-dev       # unit tests
  libzstd-dev         # trace compression
  libprotobuf-c-dev   # trace schema
  protobuf-c-compiler
  libunwind-dev       # host backtraces on a monitor fault
  gdb                 # end-to-end debugging tests
  qemu-system-x86     # differential tests and benchmarks
  qemu-utils          # qemu-img: the qcow2 drive QEMU record/replay snapshots need (bench/reverse.sh)
  clang-format
  clang               # libFuzzer target for the trace reader
  libclang-rt-14-dev  # libFuzzer and sanitizer runtimes for clang 14 (bookworm's clang)
  bc                  # arithmetic in test and benchmark scripts
  xz-utils            # unpacks the Linux bundle's kernel image for its frame descriptions
)
names=()
for entry in "${PACKAGES[@]}"; do names+=("${entry%% *}"); done

missing=()
for pkg in "${names[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#names[@]} packages are installed"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: as root, run:" >&2
  echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

#!/bin/bash
# Manual build of the guest kernels (the CMake build does the same): build.sh OUTDIR [NAME...]
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?outdir}; shift
mkdir -p "$out"
CFLAGS="-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -O2 -g -std=gnu17 -Wall -Wextra -Werror -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -fno-builtin -fno-strict-aliasing"
for n in "$@"; do
  gcc $CFLAGS -no-pie -static -Wl,--build-id=none -Wl,-n -Wl,--no-warn-rwx-segments -T "$here/linker.ld" \
    "$here/boot.S" "$here/rt.c" $(ls "$here/$n".c "$here/$n".S 2>/dev/null) -lgcc -o "$out/$n.elf"
done

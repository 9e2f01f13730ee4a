#!/bin/bash
# Manual build of the sys kernels: build.sh OUTDIR [NAME...]
set -e
here=$(cd "$(dirname "$0")" && pwd)
g=$here/..
out=${1:?outdir}; shift
mkdir -p "$out"
CFLAGS="-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -O2 -g -std=gnu17 -Wall -Wextra -Werror -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -fno-builtin -fno-strict-aliasing"
for n in "$@"; do
  gcc $CFLAGS -no-pie -static -Wl,--build-id=none -Wl,-n -Wl,--no-warn-rwx-segments -T "$g/linker.ld" \
    "$g/boot.S" "$g/rt.c" "$here/sys.c" "$here/sys_entry.S" "$here/$n.c" -lgcc -o "$out/$n.elf"
done

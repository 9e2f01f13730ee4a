#!/usr/bin/env bash
# tools/make-linux-bundle.sh [OUTDIR [RRVM]]: builds the Linux guest bundle from Debian packages:
#   OUTDIR/bzImage         Debian's linux-image-6.1.0-*-686-unsigned (i386) kernel
#   OUTDIR/initramfs.cpio.gz  busybox-static (i386) with an /init that mounts /proc, /sys,
#                          /dev and a tmpfs on /tmp and runs a shell on ttyS0
#   OUTDIR/System.map      the kernel's symbols, "address type name" sorted by address
#   OUTDIR/vmlinux.sym     the same symbols as an ELF32 i386 file for gdb (no code, no debug
#                          information, but call-frame information derived from the kernel's
#                          code, so that backtraces work): `rrvm record --symbols
#                          OUTDIR/vmlinux.sym` embeds it
# Debian ships no vmlinux and only a placeholder System.map, so the symbols come from the
# kernel itself: with an rrvm binary (RRVM, or the RRVM environment variable) the script
# boots the bundle once with rrvm.dump=kallsyms, takes /proc/kallsyms from the serial
# output and converts it with tools/kallsyms2elf (the one built next to RRVM, or compiled
# here), which also reads the kernel's ELF image (unpacked from the bzImage with xz) for the
# frame descriptions. Without rrvm the placeholder System.map stays and vmlinux.sym is not
# made.
#
# The symbols are the kernel's link-time addresses: boot with `nokaslr` on the command line,
# or KASLR moves the kernel by a random offset and no symbol matches.
#
# tools/make-linux-bundle.sh --if-needed OUTDIR [RRVM] (the tests): only what is missing or
# stale: nothing if OUTDIR/bundle-version matches bundle_version below and the symbols are
# there, only the symbol boot (~10 s, no download) if just they are missing, only
# vmlinux.sym if it is older than symbols_version below, else all of it.
# Needs root (dpkg --add-architecture i386, apt-get update) the first time.
set -euo pipefail
# Bump when what the script puts in the bundle changes (the init, the symbols), so that a
# bundle built by an older version is rebuilt by --if-needed.
bundle_version=3
# Bump when what vmlinux.sym holds changes: --if-needed remakes it from System.map.
symbols_version=3
if_needed=0
if [ "${1:-}" = --if-needed ]; then
  if_needed=1
  shift
fi
out=${1:-build/linux}
rrvm=${2:-${RRVM:-}}
if [ -n "$rrvm" ]; then
  [ -x "$rrvm" ] || { echo "make-linux-bundle: $rrvm is not an executable" >&2; exit 1; }
  rrvm=$(cd "$(dirname "$rrvm")" && pwd)/$(basename "$rrvm") # the build runs elsewhere
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# tests build the bundle from two ctest processes at once: one builder at a time
exec 9>"$out/.bundle.lock"
flock 9

# The kernel's ELF image (sections, no symbols) out of the bzImage: the compressed payload
# the setup header locates (boot protocol 2.08+: payload_offset at 0x248, payload_length at
# 0x24c, from the protected-mode code after (setup_sects + 1) * 512 bytes).
extract_vmlinux() { # BZIMAGE OUT
  local ss po pl
  ss=$(od -An -tu1 -j $((0x1f1)) -N1 "$1" | tr -d ' ')
  [ "$ss" = 0 ] && ss=4
  po=$(od -An -tu4 -j $((0x248)) -N4 "$1" | tr -d ' ')
  pl=$(od -An -tu4 -j $((0x24c)) -N4 "$1" | tr -d ' ')
  tail -c +$(((ss + 1) * 512 + po + 1)) "$1" | head -c "$pl" | xz -dc --single-stream >"$2" 2>/dev/null &&
    [ "$(head -c 4 "$2" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]
}

# OUTDIR/System.map -> OUTDIR/vmlinux.sym, with frame descriptions from the kernel's code.
make_symbol_elf() {
  local k2e= image=
  if [ -n "$rrvm" ] && [ -x "$(dirname "$rrvm")/kallsyms2elf" ]; then
    k2e=$(dirname "$rrvm")/kallsyms2elf
  else
    k2e=$tmp/kallsyms2elf
    ${CC:-cc} -std=c17 -O2 -I"$here/.." -o "$k2e" "$here/kallsyms2elf.c" "$here/frame_cfi.c" -lZydis
  fi
  if extract_vmlinux "$out/bzImage" "$tmp/vmlinux.elf"; then
    image=$tmp/vmlinux.elf
  else
    echo "make-linux-bundle: warning: cannot unpack the kernel image from bzImage: vmlinux.sym without frame descriptions" >&2
  fi
  "$k2e" "$out/System.map" "$tmp/vmlinux.sym" $image
  mv "$tmp/vmlinux.sym" "$out/vmlinux.sym"
  echo "$symbols_version" >"$out/symbols-version"
}

# Boots the bundle with rrvm.dump=kallsyms and writes OUTDIR/System.map and
# OUTDIR/vmlinux.sym (through temporary files, so a reader never sees half of one).
make_symbols() {
  local attempt want got
  for attempt in 1 2; do
    # bounded: the dump boot ends with poweroff -f after ~10 s
    timeout 120 "$rrvm" run -m 256 -kernel "$out/bzImage" -initrd "$out/initramfs.cpio.gz" \
      -append "console=ttyS0 quiet nokaslr rrvm.dump=kallsyms" </dev/null \
      >"$tmp/dump.raw" 2>"$tmp/dump.err" || true
    tr -d '\r' <"$tmp/dump.raw" |
      sed -n '/^rrvm-kallsyms-begin$/,/^rrvm-kallsyms-end /p' >"$tmp/dump.txt"
    want=$(sed -n 's/^rrvm-kallsyms-end \([0-9][0-9]*\)$/\1/p' "$tmp/dump.txt")
    # every line between the markers must be a symbol: a kernel message printed into the
    # middle of the dump, or a lost line, makes the counts differ
    sed '1d;$d' "$tmp/dump.txt" >"$tmp/kallsyms"
    got=$(grep -cE $'^[0-9a-f]{8} [A-Za-z?] [^ \t]+(\t\\[[^]]+\\])?$' "$tmp/kallsyms" || true)
    if [ -n "$want" ] && [ "$want" -gt 0 ] && [ "$got" = "$want" ] &&
      [ "$(wc -l <"$tmp/kallsyms")" = "$want" ]; then
      break
    fi
    echo "make-linux-bundle: kallsyms dump $attempt: ${got:-0} symbol lines, marker says ${want:-nothing}" >&2
    tail -n 3 "$tmp/dump.err" >&2
    want=
  done
  [ -n "$want" ] || { echo "make-linux-bundle: no complete /proc/kallsyms from the guest" >&2; return 1; }
  # as the kernel's scripts/mksysmap: no module symbols, no absolute/debugging/undefined
  # entries, no __crc_ or local label names; sorted by address, then name (nm -n)
  grep -v $'\t' "$tmp/kallsyms" |
    grep -vE '^[0-9a-f]+ [aNUw] |^[0-9a-f]+ . (__crc_|\$[adt]|\.L)' |
    LC_ALL=C sort -k1,1 -k3,3 >"$tmp/System.map"
  grep -qE '^c1000000 T _text$' "$tmp/System.map" ||
    echo "make-linux-bundle: warning: _text is not at 0xc1000000 (was the kernel relocated?)" >&2
  rm -f "$out/vmlinux.sym"
  mv "$tmp/System.map" "$out/System.map"
  make_symbol_elf
  echo "make-linux-bundle: System.map ($(wc -l <"$out/System.map") symbols) and vmlinux.sym from the kernel's /proc/kallsyms"
}

if [ $if_needed = 1 ] && [ "$(cat "$out/bundle-version" 2>/dev/null)" = "$bundle_version" ] &&
  [ -f "$out/bzImage" ] && [ -f "$out/initramfs.cpio.gz" ]; then
  if [ -z "$rrvm" ]; then
    exit 0
  fi
  if [ -f "$out/vmlinux.sym" ]; then
    # System.map is the kernel's own (vmlinux.sym is only made from that one)
    [ "$(cat "$out/symbols-version" 2>/dev/null)" = "$symbols_version" ] || make_symbol_elf
    exit 0
  fi
  make_symbols
  exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx i386; then
  dpkg --add-architecture i386
  apt-get update -qq
fi
command -v cpio >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cpio >/dev/null
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-686-unsigned$' |
      awk '{print $1}' | sort -V | tail -n 1)
[ -n "$pkg" ] || { echo "make-linux-bundle: no linux-image-6.1.0-*-686-unsigned package found" >&2; exit 1; }
cd "$tmp"
apt-get download "$pkg:i386" "busybox-static:i386" >/dev/null 2>&1 ||
  apt-get download "$pkg:i386" "busybox-static:i386"
dpkg-deb -x linux-image-*.deb k
dpkg-deb -x busybox-static_*.deb b
# symbols made from the same kernel before stay valid (a rebuild without rrvm keeps them);
# another kernel gets Debian's placeholder System.map until make_symbols replaces it
if ! { [ -f "$out/vmlinux.sym" ] && cmp -s k/boot/vmlinuz-* "$out/bzImage"; }; then
  rm -f "$out/vmlinux.sym"
  cp k/boot/System.map-* "$out/System.map.new" && mv "$out/System.map.new" "$out/System.map"
fi
cp k/boot/vmlinuz-* "$out/bzImage.new" && mv "$out/bzImage.new" "$out/bzImage"

mkdir -p root/bin root/sbin root/proc root/sys root/dev root/tmp root/etc root/root
cp b/bin/busybox root/bin/busybox
for app in sh ls cat echo mount mkdir poweroff reboot halt seq sync uname ps kill sleep \
           grep wc head tail cp mv rm true false dmesg setsid cttyhack ln; do
  ln -sf busybox "root/bin/$app"
done
cat >root/init <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
echo "rrvm linux bundle: init running on $(uname -r)"
# bench/linux.sh: rrvm.bench=boot|cpu|fork runs a workload and ends the machine
# (rrvm.end=reboot for emulators that exit on a reset rather than a halt)
for arg in $(cat /proc/cmdline); do
  case $arg in
    rrvm.bench=*) bench=${arg#rrvm.bench=} ;;
    rrvm.end=*) end=${arg#rrvm.end=} ;;
    rrvm.dump=*) dump=${arg#rrvm.dump=} ;;
  esac
done
# tools/make-linux-bundle.sh: rrvm.dump=kallsyms prints the kernel's symbol table between
# markers (with its line count, so a truncated dump is noticed) and ends the machine, since
# Debian's System.map is a placeholder. kptr_restrict=0: real addresses even if a future
# init were not root.
if [ "$dump" = kallsyms ]; then
  echo 0 >/proc/sys/kernel/kptr_restrict
  echo "rrvm-kallsyms-begin"
  cat /proc/kallsyms
  echo "rrvm-kallsyms-end $(wc -l </proc/kallsyms)"
  poweroff -f
fi
if [ -n "$bench" ]; then
  # the workload's own duration in guest time (uptime, 10 ms resolution), which leaves the
  # boot and the emulator's start-up out of the comparison
  echo "rrvm-bench-begin $(cut -d' ' -f1 /proc/uptime)"
  case $bench in
    cpu) i=0; s=0; while [ $i -lt 200000 ]; do s=$((s+i*i%7)); i=$((i+1)); done; echo "cpu $s" ;;
    fork) i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done; echo "forked $i" ;;
  esac
  echo "rrvm-bench-end $(cut -d' ' -f1 /proc/uptime)"
  if [ "$end" = reboot ]; then reboot -f; else poweroff -f; fi
fi
# The shell is a child of init, not init itself: the kernel counts a process group whose
# only parent outside it is init (PID 1) as orphaned and discards Ctrl-Z (SIGTSTP) for its
# jobs. setsid + cttyhack give the shell its own session with ttyS0 as controlling terminal,
# so it has job control and Ctrl-C reaches the foreground job. Exiting it starts another.
while :; do
  setsid cttyhack sh
  echo "rrvm linux bundle: shell exited, starting another"
  sleep 1
done
INIT
chmod +x root/init
(cd root && find . | cpio -o -H newc --quiet | gzip -9) >"$out/initramfs.cpio.gz.new"
mv "$out/initramfs.cpio.gz.new" "$out/initramfs.cpio.gz"
if [ -n "$rrvm" ]; then
  make_symbols
elif [ -f "$out/vmlinux.sym" ]; then
  echo "make-linux-bundle: no rrvm binary given: System.map and vmlinux.sym kept from an earlier build of the same kernel" >&2
else
  echo "make-linux-bundle: no rrvm binary given (make-linux-bundle.sh OUTDIR RRVM): System.map is Debian's placeholder, no vmlinux.sym" >&2
fi
echo "$bundle_version" >"$out/bundle-version"
echo "make-linux-bundle: $pkg -> $out: $(ls "$out" | tr '\n' ' ')"
echo "make-linux-bundle: run it with: rrvm run -m 256 -kernel $out/bzImage -initrd $out/initramfs.cpio.gz -append \"console=ttyS0 nokaslr\""

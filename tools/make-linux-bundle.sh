#!/usr/bin/env bash
# tools/make-linux-bundle.sh [OUTDIR]: builds the Linux guest bundle from Debian packages:
#   OUTDIR/bzImage         Debian's linux-image-6.1.0-*-686-unsigned (i386) kernel
#   OUTDIR/System.map      its symbols
#   OUTDIR/initramfs.cpio.gz  busybox-static (i386) with an /init that mounts /proc, /sys,
#                          /dev and a tmpfs on /tmp and runs a shell on ttyS0
# Needs root (dpkg --add-architecture i386, apt-get update) the first time.
set -euo pipefail
out=${1:-build/linux}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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
cp k/boot/vmlinuz-* "$out/bzImage"
cp k/boot/System.map-* "$out/System.map"

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
  case $bench in
    cpu) i=0; s=0; while [ $i -lt 200000 ]; do s=$((s+i*i%7)); i=$((i+1)); done; echo "cpu $s" ;;
    fork) i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done; echo "forked $i" ;;
  esac
  if [ "$end" = reboot ]; then reboot -f; else poweroff -f; fi
fi
exec setsid cttyhack sh
INIT
chmod +x root/init
(cd root && find . | cpio -o -H newc --quiet | gzip -9) >"$out/initramfs.cpio.gz"
echo "make-linux-bundle: $pkg -> $out: $(ls "$out" | tr '\n' ' ')"

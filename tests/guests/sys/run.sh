#!/bin/bash
# run.sh KERNEL: QEMU then rrvm ($RRVM) side by side (developer helper)
k=$1
timeout 20 qemu-system-i386 -kernel "$k" -display none -serial stdio -monitor none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -m 128 -accel tcg > /tmp/sysk/q.out 2>/tmp/sysk/q.err </dev/null; echo "qemu status $?"
timeout 35 ${RRVM:-/tmp/sysk/build/rrvm} run -kernel "$k" > /tmp/sysk/r.out 2>/tmp/sysk/r.err </dev/null; echo "rrvm status $?"
diff /tmp/sysk/q.out /tmp/sysk/r.out && echo SAME
cat /tmp/sysk/r.err | head -5

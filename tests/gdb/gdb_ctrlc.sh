#!/bin/bash
# gdb_ctrlc.sh RRVM KERNEL: Ctrl-C (the RSP interrupt byte 0x03) stops a running guest.
# Drives the stub over a real TCP socket with raw packets, then with gdb itself.
set -u
rrvm=$1 kernel=$2
tmp=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$rrvm" run -kernel "$kernel" -append iters=100000 --gdb=$port </dev/null >/dev/null 2>"$tmp/err" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do grep -q "waiting for gdb" "$tmp/err" && break; sleep 0.1; done
exec 3<>/dev/tcp/127.0.0.1/$port || { echo "FAIL: cannot connect"; exit 1; }
printf '$c#63' >&3           # continue
sleep 1
printf '\003' >&3            # Ctrl-C
reply=""
for _ in $(seq 100); do
  IFS= read -r -t 0.1 -n 1 ch <&3 && reply+=$ch
  [[ "$reply" == *'#'?? ]] && break
done
echo "reply: $reply"
case "$reply" in
  *'$T02'*) echo "ok   stopped with SIGINT (T02)" ;;
  *) echo "FAIL: no T02 stop reply after Ctrl-C"; exit 1 ;;
esac
printf '+$g#67' >&3
regs=""
for _ in $(seq 200); do
  IFS= read -r -t 0.1 -n 1 ch <&3 && regs+=$ch
  [[ "$regs" == *'#'?? ]] && break
done
[[ ${#regs} -gt 100 ]] && echo "ok   registers readable after the stop" || { echo "FAIL: g"; exit 1; }
printf '+$k#6b' >&3
exec 3>&-
wait $pid
echo "PASS: Ctrl-C stops a running guest"

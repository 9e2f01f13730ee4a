#!/bin/bash
# bench/reverse.sh [BUILD_DIR]: latency of reverse execution under gdb on a long trace, and
# the same under qemu-system-i386's record/replay (issue 5, must-show (c)).
#
# Records the cpubench guest (~1.7e9 instructions) once with `rrvm record` and once with
# QEMU TCG (-icount shift=auto,rr=record,rrsnapshot=init, a blank qcow2 drive holding the
# snapshot). At 10%, 50% and 90% of the trace, gdb sessions measure:
#   rrvm: `monitor goto ICOUNT`, then (a) a first and (b) a second reverse-stepi,
#         (c) reverse-continue to `break fib` (fib is called ~22,000 times in each round of
#         the benchmark, so the last call is at most one round, ~3.4e6 instructions, back),
#         (d) back at the position, a forward `continue` to `watch -l buf[0]` (written
#         once per round), then `monitor info` (checkpoints, KiB) and the peak RSS (VmHWM)
#         of the `rrvm replay` process;
#   QEMU: `monitor replay_break N` + `continue` to the same instant (QEMU's count includes
#         the BIOS: the offset is calibrated on the first call of memset() in both), then
#         two reverse-stepi (one session), and reverse-continue to the same `break fib`
#         (a second session; QEMU re-executes from its only snapshot, at icount 0).
# The two are cross-checked: the same eip at each position, and reverse-continue stopping
# at the same instant. Note on QEMU's reverse-continue: QEMU runs code on a page holding a
# breakpoint one instruction per block without chaining, and all of cpubench's code is on
# one page, so its two re-executions from icount 0 run ~30x slower than its plain replay. Every gdb session is bounded by `timeout` (RRVM_BENCH_TIMEOUT, 300 s;
# QEMU's reverse-continue sessions RRVM_BENCH_QEMU_RC_TIMEOUT, 420 s: about 300 s are
# needed at 90%). QEMU 7.2 sometimes deadlocks in a snapshot load during reverse
# execution: a QEMU that uses no CPU for 20 s while gdb waits is killed and the step shows
# "hang"; such a session is tried up to three times while the time budget allows. Times are wall-clock seconds measured
# inside gdb (python time.time() around each command). No pass/fail thresholds: exit 0 when
# the rrvm part could be measured, 1 with a message when it could not run at all. Progress
# goes to stderr. Environment: QEMU (qemu-system-i386), QEMU_IMG (qemu-img),
# RRVM_BENCH_TIMEOUT, RRVM_BENCH_QEMU_RC_TIMEOUT, RRVM_BENCH_POSITIONS ("10 50 90"),
# RRVM_BENCH_BUDGET (900 s: no QEMU retry that would end past it).
set -u
build=${1:-build}
rrvm=$build/rrvm
kernel_src=$build/tests/guests/cpubench.elf
qemu=${QEMU:-qemu-system-i386}
qemu_img=${QEMU_IMG:-qemu-img}
limit=${RRVM_BENCH_TIMEOUT:-300}
rc_limit=${RRVM_BENCH_QEMU_RC_TIMEOUT:-420}
positions=${RRVM_BENCH_POSITIONS:-10 50 90}
budget=${RRVM_BENCH_BUDGET:-900}

t_start=$(date +%s)
elapsed() { echo $(($(date +%s) - t_start)); }
say() { printf '[reverse.sh %4ds] %s\n' "$(elapsed)" "$*" >&2; }
die() {
  echo "reverse.sh: $*" >&2
  exit 1
}

for f in "$rrvm" "$kernel_src"; do
  [ -e "$f" ] || die "$f not found (build first: cmake --build $build)"
done
command -v gdb >/dev/null || die "gdb not found (scripts/install-deps.sh installs it)"
gdb -q -batch -nx -ex 'python import time' >/dev/null 2>&1 || die "this gdb has no python"
rrvm=$(realpath "$rrvm")

tmp=$(mktemp -d /tmp/rrvm-reverse.XXXXXX)
qemu_pid=
# shellcheck disable=SC2317 # called through the trap
cleanup() {
  if [ -n "$qemu_pid" ]; then kill -9 "$qemu_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# Both recorders boot the same file by the same path: the guest sees the path as its
# multiboot command line and scans it, so a different path would shift every icount.
kernel=$tmp/cpubench.elf
cp "$kernel_src" "$kernel"

# ---- the gdb side: one python script for every session, driven by BENCH_* variables ----
# BENCH_OUT: result file, one "key status seconds text" line per step, written as it goes
# (a session killed by its timeout keeps the steps it finished).
cat >"$tmp/session.py" <<'PY'
import os, re, time
import gdb

E = os.environ
OUT = E["BENCH_OUT"]
STUB = E["BENCH_STUB"]  # rrvm | qemu
MODE = E["BENCH_MODE"]  # calib | all | rsi | rc


def record(key, status, secs, text=""):
    with open(OUT, "a") as f:
        f.write("%s %s %.6f %s\n" % (key, status, secs, " ".join(text.split())))


def run(key, cmd):
    t0 = time.time()
    try:
        text, status = gdb.execute(cmd, to_string=True) or "", "ok"
    except gdb.error as e:
        text, status = str(e), "error"
    record(key, status, time.time() - t0, text)
    return text if status == "ok" else None


def icount_now():
    if STUB == "rrvm":
        m = re.search(r"icount (\d+)", run("when", "monitor when") or "")
    else:
        m = re.search(r"instruction count = (\d+)", run("when", "monitor info replay") or "")
    return int(m.group(1)) if m else -1


def pc():
    try:
        return "0x%x" % (int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFF)
    except gdb.error:
        return "?"


def vmhwm(pid):
    try:
        m = re.search(r"VmHWM:\s+(\d+) kB", open("/proc/%d/status" % pid).read())
        return m.group(1) if m else None
    except OSError:
        return None


def rrvm_pids():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open("/proc/%s/stat" % d).read()
                kids.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(d))
            except (OSError, ValueError):
                pass
    out, todo = [], [os.getpid()]
    while todo:
        for k in kids.get(todo.pop(), []):
            todo.append(k)
            try:
                if open("/proc/%d/comm" % k).read().strip() == "rrvm":
                    out.append(k)
            except OSError:
                pass
    return out


gdb.execute("set pagination off")
gdb.execute("set confirm off")
if run("target", "target remote " + E["BENCH_REMOTE"]) is not None:
    if MODE == "calib":
        # the first call of memset(): the same instant in both recordings
        run("break", "break memset")
        run("continue", "continue")
        record("calib", "ok", 0, str(icount_now()))
    else:
        target = int(E["BENCH_TARGET"])
        if STUB == "rrvm":
            text = run("goto", "monitor goto %d" % target) or ""
            # gdb does not know that a monitor command moved the target
            run("flush", "maintenance flush register-cache")
        else:
            run("replay_break", "monitor replay_break %d" % target)
            run("goto", "continue")
        record("at", "ok", 0, "%d %s" % (icount_now(), pc()))
        if MODE in ("all", "rsi"):
            run("rsi1", "reverse-stepi")
            run("rsi2", "reverse-stepi")
        if MODE in ("all", "rc"):
            run("break", "break fib")
            if run("rc", "reverse-continue") is not None:
                record("rc_at", "ok", 0, str(icount_now()))
            run("delete", "delete")
        if MODE == "all":
            run("goto2", "monitor goto %d" % target)
            run("flush", "maintenance flush register-cache")
            run("watch", "watch -l buf[0]")
            if run("wcont", "continue") is not None:
                record("watch_at", "ok", 0, str(icount_now()))
            run("delete", "delete")
            m = re.search(r"(\d+) checkpoints \((\d+) KiB\)", run("info", "monitor info") or "")
            if m:
                record("ckpt", "ok", 0, "%s %s" % (m.group(1), m.group(2)))
    pids = [int(E["BENCH_PID"])] if E.get("BENCH_PID") else rrvm_pids()
    for p in pids:
        kb = vmhwm(p)
        if kb:
            record("rss", "ok", 0, kb)
    record("done", "ok", 0)
    try:
        gdb.execute("kill")
    except gdb.error:
        pass
PY

# gdb_session OUT STUB MODE REMOTE TARGET LIMIT: one bounded session; 124 on a timeout
gdb_session() {
  local out=$1
  : >"$out"
  BENCH_OUT=$out BENCH_STUB=$2 BENCH_MODE=$3 BENCH_REMOTE=$4 BENCH_TARGET=$5 \
    timeout -k 5 "$6" gdb -q -batch -nx -x "$tmp/session.py" "$kernel" \
    >"$out.log" 2>&1 </dev/null
}
# field OUT KEY: seconds of step KEY, or hang / timeout / error / - (not reached)
field() {
  local line
  line=$(grep -m1 "^$2 " "$1" 2>/dev/null)
  if [ -n "$line" ] && [ "$(echo "$line" | cut -d' ' -f2)" = ok ]; then
    printf '%.3f' "$(echo "$line" | cut -d' ' -f3)"
  elif [ -e "$1.hang" ]; then
    echo "hang"
  elif [ -n "$line" ]; then
    echo "error"
  elif grep -q '^done ' "$1" 2>/dev/null; then
    echo "-"
  else
    echo "timeout"
  fi
}
# text OUT KEY: the text of step KEY
text() { grep -m1 "^$2 " "$1" 2>/dev/null | cut -d' ' -f4-; }
is_num() { case "$1" in '' | *[!0-9.]*) return 1 ;; *) return 0 ;; esac }

# ---- rrvm ----
say "recording cpubench with rrvm"
"$rrvm" record -o "$tmp/cb.rrvm" -kernel "$kernel" </dev/null >"$tmp/rrvm.serial" 2>"$tmp/rrvm.rec.err"
rc=$?
[ "$rc" -lt 64 ] || die "rrvm record failed (exit $rc): $(cat "$tmp/rrvm.rec.err")"
"$rrvm" trace info "$tmp/cb.rrvm" >"$tmp/info" 2>&1 || die "rrvm trace info failed: $(cat "$tmp/info")"
total=$(sed -n 's/^instructions: *\([0-9]*\).*/\1/p' "$tmp/info")
[ "${total:-0}" -gt 0 ] || die "no instruction count in: $(cat "$tmp/info")"
checksum=$(grep -oE 'checksum=[0-9a-f]+' "$tmp/rrvm.serial")
say "rrvm trace: $total instructions, $(stat -c %s "$tmp/cb.rrvm") bytes, $checksum"

declare -A R Q
measured=
for pos in $positions; do
  tgt=$((total * pos / 100))
  say "rrvm at $pos% (icount $tgt)"
  out=$tmp/r$pos
  gdb_session "$out" rrvm all "| $rrvm replay --gdb-pipe $tmp/cb.rrvm" "$tgt" "$limit"
  [ $? -eq 124 ] && say "rrvm session at $pos% timed out after $limit s"
  R[$pos,icount]=$tgt
  R[$pos,eip]=$(text "$out" at | cut -d' ' -f2)
  for k in goto rsi1 rsi2 rc wcont; do R[$pos,$k]=$(field "$out" "$k"); done
  R[$pos,rc_at]=$(text "$out" rc_at)
  R[$pos,watch_at]=$(text "$out" watch_at)
  ck=$(text "$out" ckpt)
  R[$pos,ckpt]=${ck:+${ck% *}/${ck#* }}
  rss=$(text "$out" rss)
  R[$pos,rss]=${rss:+$((rss / 1024))}
  say "  goto ${R[$pos,goto]} s (eip ${R[$pos,eip]:-?}), reverse-stepi ${R[$pos,rsi1]} / ${R[$pos,rsi2]} s," \
    "reverse-continue ${R[$pos,rc]} s (to icount ${R[$pos,rc_at]:-?}), watch ${R[$pos,wcont]} s" \
    "(to icount ${R[$pos,watch_at]:-?}), checkpoints/KiB ${R[$pos,ckpt]:-?}, VmHWM ${R[$pos,rss]:-?} MiB"
  if is_num "${R[$pos,rsi1]}"; then
    measured=1
  else
    echo "--- rrvm session log at $pos%:" >&2
    tail -n 20 "$out.log" >&2
  fi
done
[ -n "$measured" ] || die "could not measure rrvm at any position (session logs above)"

# ---- QEMU ----
qemu_ok=
qemu_note=
if ! command -v "$qemu" >/dev/null; then
  qemu_note="$qemu not found: no QEMU figures (scripts/install-deps.sh installs qemu-system-x86)"
elif ! command -v "$qemu_img" >/dev/null; then
  qemu_note="$qemu_img not found: no QEMU figures (scripts/install-deps.sh installs qemu-utils)"
else
  qemu_ok=1
fi
qemu_common=(-net none -display none -monitor none -no-reboot -m 128
  -device "isa-debug-exit,iobase=0xf4,iosize=0x04" -kernel "$kernel")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ -n "$qemu_ok" ]; then
  say "recording cpubench with $qemu (TCG, -icount shift=auto,rr=record,rrsnapshot=init)"
  "$qemu_img" create -f qcow2 "$tmp/rr0.qcow2" 64M >/dev/null || qemu_ok=
  [ -n "$qemu_ok" ] || qemu_note="$qemu_img create failed"
fi
if [ -n "$qemu_ok" ]; then
  timeout -k 5 300 "$qemu" -icount "shift=auto,rr=record,rrfile=$tmp/q.bin,rrsnapshot=init" \
    -drive "file=$tmp/rr0.qcow2,if=none,id=rr" -serial "file:$tmp/qemu.serial" \
    "${qemu_common[@]}" </dev/null >"$tmp/qemu.rec.err" 2>&1
  qsum=$(grep -oE 'checksum=[0-9a-f]+' "$tmp/qemu.serial" 2>/dev/null)
  if [ -z "$qsum" ]; then
    qemu_note="QEMU record failed: $(head -c 300 "$tmp/qemu.rec.err")"
    qemu_ok=
  elif [ "$qsum" != "$checksum" ]; then
    qemu_note="QEMU's recording printed $qsum, rrvm's $checksum"
    qemu_ok=
  else
    say "QEMU record: $(stat -c %s "$tmp/q.bin") bytes of replay log, $qsum"
  fi
fi

# qemu_session OUT MODE TARGET LIMIT: a QEMU replay served to one bounded gdb session.
# A QEMU that uses no CPU for 20 s while gdb waits for it is deadlocked: it is killed and
# OUT.hang marks the session.
qemu_session() {
  local out=$1 port status gdb_pid last=-1 idle=0 ticks t0 busy=0
  qemu_sessions=$((qemu_sessions + 1))
  port=$(free_port)
  cp "$tmp/rr0.qcow2" "$tmp/rr.qcow2" # the recording's image, as it was
  rm -f "$out.hang"
  "$qemu" -icount "shift=auto,rr=replay,rrfile=$tmp/q.bin,rrsnapshot=init" \
    -drive "file=$tmp/rr.qcow2,if=none,id=rr" -serial "file:$tmp/qemu.replay.serial" \
    "${qemu_common[@]}" -gdb "tcp:127.0.0.1:$port" -S </dev/null >"$out.qemu" 2>&1 &
  qemu_pid=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  BENCH_PID=$qemu_pid gdb_session "$out" qemu "$2" ":$port" "$3" "$4" &
  gdb_pid=$!
  t0=$(date +%s)
  while kill -0 "$gdb_pid" 2>/dev/null; do
    sleep 1
    ticks=$(awk '{ print $14 + $15 }' "/proc/$qemu_pid/stat" 2>/dev/null) || break
    if [ "$ticks" = "$last" ]; then
      idle=$((idle + 1))
    else
      idle=0 busy=$(($(date +%s) - t0))
    fi
    last=$ticks
    if [ "$idle" -ge 20 ]; then
      say "  QEMU has used no CPU for 20 s while gdb waits: deadlocked after ${busy} s; killing it"
      echo "$busy" >"$out.hang"
      kill -9 "$qemu_pid" 2>/dev/null
      break
    fi
  done
  wait "$gdb_pid" 2>/dev/null
  status=$?
  kill -9 "$qemu_pid" 2>/dev/null
  wait "$qemu_pid" 2>/dev/null
  qemu_pid=
  return $status
}

offset=
deadlocks=0 qemu_sessions=0 hangs=()
if [ -n "$qemu_ok" ]; then
  say "calibrating QEMU's instruction count against rrvm's (first call of memset)"
  gdb_session "$tmp/rcal" rrvm calib "| $rrvm replay --gdb-pipe $tmp/cb.rrvm" 0 "$limit"
  qemu_session "$tmp/qcal" calib 0 "$limit"
  rcal=$(text "$tmp/rcal" calib) qcal=$(text "$tmp/qcal" calib)
  if [ "${rcal:--1}" -ge 0 ] && [ "${qcal:--1}" -ge 0 ]; then
    offset=$((qcal - rcal))
    say "  memset first called at rrvm icount $rcal, QEMU icount $qcal: offset $offset" \
      "(QEMU's count includes the BIOS and the option ROM that loads the kernel)"
  else
    qemu_note="could not calibrate QEMU's icount against rrvm's (rrvm '$rcal', QEMU '$qcal')"
    tail -n 20 "$tmp/qcal.log" >&2
    qemu_ok=
  fi
fi

checks=()
if [ -n "$qemu_ok" ]; then
  for pos in $positions; do
    tgt=$((R[$pos,icount] + offset))
    # reverse-stepi twice, then reverse-continue, each in its own session; a session in
    # which QEMU deadlocked is run again, up to three tries, if the time left allows
    for what in rsi rc; do
      for try in 1 2 3; do
        label=
        [ "$try" -gt 1 ] && label=" (try $try, after a deadlock)"
        out=$tmp/q$pos.$what$try
        if [ "$what" = rsi ]; then
          name="reverse-stepi session"
          say "QEMU at $pos% (QEMU icount $tgt): reverse-stepi$label"
          qemu_session "$out" rsi "$tgt" "$limit"
          [ $? -eq 124 ] && say "  timed out after $limit s"
          for k in goto rsi1 rsi2; do
            v=$(field "$out" "$k")
            # a figure from an earlier try is not overwritten by a failure
            if is_num "$v" || ! is_num "${Q[$pos,$k]:-}"; then Q[$pos,$k]=$v; fi
          done
          v=$(text "$out" at)
          Q[$pos,at]=${v:-${Q[$pos,at]:-}}
          say "  replay_break + continue ${Q[$pos,goto]} s (at ${Q[$pos,at]:-?})," \
            "reverse-stepi ${Q[$pos,rsi1]} / ${Q[$pos,rsi2]} s"
          need=$((pos / 5 + 20))
        else
          name=reverse-continue
          say "QEMU at $pos%: reverse-continue to break fib$label"
          qemu_session "$out" rc "$tgt" "$rc_limit"
          [ $? -eq 124 ] && say "  timed out after $rc_limit s"
          Q[$pos,rc]=$(field "$out" rc)
          Q[$pos,rc_at]=$(text "$out" rc_at)
          say "  reverse-continue ${Q[$pos,rc]} s (to icount ${Q[$pos,rc_at]:-?})"
          need=$((pos * 7 / 2 + 30)) # ~3.3 s per percent of the trace, in two passes
        fi
        rss=$(text "$out" rss)
        if [ -n "$rss" ] && [ "$((rss / 1024))" -gt "${Q[$pos,rss]:-0}" ]; then
          Q[$pos,rss]=$((rss / 1024))
        fi
        [ -e "$out.hang" ] || break
        deadlocks=$((deadlocks + 1))
        hangs+=("$pos%: QEMU's $name (try $try) deadlocked after $(cat "$out.hang") s of the session")
        [ "$try" = 3 ] && break
        if [ $(($(elapsed) + need)) -gt "$budget" ]; then
          say "  not run again: it would end past the ${budget} s budget"
          break
        fi
      done
    done
    # the same instant in both: the same eip there, and the same last call of fib
    qeip=${Q[$pos,at]#* }
    if [ -n "${R[$pos,eip]}" ] && [ -n "$qeip" ] && [ "$qeip" != "?" ]; then
      if [ "$((R[$pos,eip]))" -eq "$((qeip))" ]; then
        checks+=("$pos%: the same eip at the position in both ($qeip)")
      else
        checks+=("$pos%: DIFFERENT eip at the position: rrvm ${R[$pos,eip]}, QEMU $qeip")
      fi
    fi
    if [ -n "${R[$pos,rc_at]}" ] && [ "${Q[$pos,rc_at]:--1}" -ge 0 ]; then
      if [ "$((R[$pos,rc_at] + offset))" -eq "${Q[$pos,rc_at]}" ]; then
        checks+=("$pos%: reverse-continue stops at the same instant in both (rrvm icount ${R[$pos,rc_at]})")
      else
        checks+=("$pos%: reverse-continue DIFFERS: rrvm icount ${R[$pos,rc_at]}, QEMU $((Q[$pos,rc_at] - offset))")
      fi
    fi
  done
fi

# ---- the table ----
ratio() {
  if is_num "$1" && is_num "$2"; then
    awk -v r="$1" -v q="$2" 'BEGIN { if (r > 0) printf "%.0fx", q / r; else print "-" }'
  else
    echo "-"
  fi
}
echo
echo "reverse execution under gdb, cpubench: $total instructions, $checksum"
echo "$("$rrvm" --version 2>&1 | head -n 1); $([ -n "$qemu_ok" ] && "$qemu" --version | head -n 1)"
if [ -n "$qemu_note" ]; then
  echo "QEMU NOT MEASURED: $qemu_note"
  echo "reverse.sh: QEMU NOT MEASURED: $qemu_note" >&2
fi
fmt='%-4s %11s %9s %9s %8s %10s %10s %7s %9s %9s %9s\n'
# shellcheck disable=SC2059 # the format is the variable
printf "$fmt" pos icount rrvm_rsi1 rrvm_rsi2 rrvm_rc rrvm_watch ckpts/KiB rss_MiB \
  qemu_rsi qemu_rc qemu/rrvm
for pos in $positions; do
  # shellcheck disable=SC2059
  printf "$fmt" "$pos%" "${R[$pos,icount]}" "${R[$pos,rsi1]}" "${R[$pos,rsi2]}" "${R[$pos,rc]}" \
    "${R[$pos,wcont]}" "${R[$pos,ckpt]:--}" "${R[$pos,rss]:--}" "${Q[$pos,rsi1]:-n/a}" \
    "${Q[$pos,rc]:-n/a}" "$(ratio "${R[$pos,rsi1]}" "${Q[$pos,rsi1]:-}")"
done
echo "Seconds. rsi1/rsi2: first and second reverse-stepi; rc: reverse-continue to break fib;"
echo "watch: continue forward to watch -l buf[0]; ckpts/KiB (monitor info) and rss (VmHWM) of"
echo "rrvm replay at the end of each session; qemu/rrvm: ratio of the first reverse-stepi."
for pos in $positions; do
  ic=${R[$pos,icount]} back="?" fwd="?"
  [ -n "${R[$pos,rc_at]}" ] && back=$((ic - R[$pos,rc_at]))
  [ -n "${R[$pos,watch_at]}" ] && fwd=$((R[$pos,watch_at] - ic))
  echo "$pos%: rrvm goto ${R[$pos,goto]} s; rc went back $back instructions, watch forward $fwd;" \
    "QEMU replay_break+continue ${Q[$pos,goto]:-n/a} s, second reverse-stepi ${Q[$pos,rsi2]:-n/a} s," \
    "VmHWM ${Q[$pos,rss]:-n/a} MiB"
done
[ -n "$qemu_ok" ] && echo "QEMU deadlocked (no CPU used for 20 s while gdb waited) in $deadlocks of" \
  "$qemu_sessions QEMU sessions; one that deadlocked was run again (up to 3 tries) when time allowed"
for h in "${hangs[@]}"; do echo "$h"; done
for c in "${checks[@]}"; do echo "check $c"; done
say "done in $(elapsed) s"
exit 0

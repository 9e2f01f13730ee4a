#!/usr/bin/env bash
# Command-line error handling of `rrvm run`: every bad invocation must print exactly one
# line "rrvm: <problem>" on stderr, naming the offending flag or file, print nothing on
# stdout, and exit with status 2.
#
# usage: cli_errors.sh RRVM TMPDIR
set -uo pipefail

if (($# != 2)); then
  echo "usage: $0 RRVM TMPDIR" >&2
  exit 2
fi
RRVM=$1
WORK=$2/cli_errors.tmp
rm -rf "$WORK"
mkdir -p "$WORK" || exit 1

passed=0
failed=0

# expect_usage_error NAME MUST_MENTION ARGS...: runs rrvm ARGS and checks the contract.
expect_usage_error() {
  local name=$1 mention=$2
  shift 2
  local out="$WORK/$name.out" err="$WORK/$name.err" status=0
  timeout 60 "$RRVM" "$@" >"$out" 2>"$err" </dev/null || status=$?
  local lines problems=()
  lines=$(wc -l <"$err")
  ((status == 2)) || problems+=("exit status $status, expected 2")
  # One line, newline-terminated: wc -l counts newlines, so also check nothing trails it.
  if [[ "$lines" -ne 1 || -n "$(tail -c 1 "$err" | tr -d '\n')" ]]; then
    problems+=("$lines lines on stderr, expected exactly 1")
  fi
  head -n 1 "$err" | grep -q '^rrvm: ' || problems+=("stderr does not start with 'rrvm: '")
  if [[ -n "$mention" ]] && ! grep -qF -- "$mention" "$err"; then
    problems+=("stderr does not mention '$mention'")
  fi
  [[ -s "$out" ]] && problems+=("unexpected output on stdout")
  if ((${#problems[@]} == 0)); then
    echo "PASS $name: $(head -n 1 "$err")"
    passed=$((passed + 1))
  else
    echo "FAIL $name: rrvm $*"
    local p
    for p in "${problems[@]}"; do echo "     - $p"; done
    echo "     stderr:"
    sed 's/^/       | /' "$err"
    failed=$((failed + 1))
  fi
}

fail_setup() {
  echo "FAIL $1: could not build the test input: $2"
  failed=$((failed + 1))
}

# Test inputs -------------------------------------------------------------------------
printf 'this is not an ELF file\n' >"$WORK/not-elf.bin"

# A real 32-bit ELF executable without a multiboot header.
cat >"$WORK/plain.S" <<'ASM'
    .text
    .globl _start
_start:
    cli
1:  hlt
    jmp 1b
ASM
# A multiboot kernel (header first in .text) with 4 MiB of initialised data: it cannot fit
# in 1 MiB of guest RAM, since multiboot kernels load at 1 MiB and up.
cat >"$WORK/big.S" <<'ASM'
    .text
    .globl _start
    .align 4
multiboot_header:
    .long 0x1BADB002            /* magic */
    .long 0x00000003            /* flags: page-align modules, want memory info */
    .long -(0x1BADB002 + 3)     /* checksum */
_start:
    cli
1:  hlt
    jmp 1b
    .data
    .fill 4 * 1024 * 1024, 1, 0x5a
ASM
CC=${CC:-gcc}
# One segment from 1 MiB, ELF headers included, as multiboot loaders expect.
# shellcheck disable=SC2054  # the commas belong to -Wl, options
KFLAGS=(-m32 -nostdlib -static -no-pie -fno-pic -Wl,--build-id=none -Wl,-z,noseparate-code
        -Wl,-Ttext-segment=0x100000)
have_plain=0 have_big=0
if "$CC" "${KFLAGS[@]}" -o "$WORK/plain.elf" "$WORK/plain.S" 2>"$WORK/plain.cc.log"; then
  have_plain=1
fi
if "$CC" "${KFLAGS[@]}" -o "$WORK/big.elf" "$WORK/big.S" 2>"$WORK/big.cc.log"; then
  have_big=1
fi

# Cases -------------------------------------------------------------------------------
expect_usage_error missing_kernel_file does-not-exist.elf \
  run -kernel "$WORK/does-not-exist.elf"
expect_usage_error non_elf_file not-elf.bin \
  run -kernel "$WORK/not-elf.bin"
if ((have_plain)); then
  expect_usage_error elf_without_multiboot_header plain.elf \
    run -kernel "$WORK/plain.elf"
else
  fail_setup elf_without_multiboot_header "$(head -n 3 "$WORK/plain.cc.log")"
fi
if ((have_big)); then
  expect_usage_error kernel_too_large_for_ram big.elf \
    run -kernel "$WORK/big.elf" -m 1
else
  fail_setup kernel_too_large_for_ram "$(head -n 3 "$WORK/big.cc.log")"
fi
expect_usage_error unknown_flag --no-such-flag \
  run -kernel "$WORK/not-elf.bin" --no-such-flag
expect_usage_error missing_flag_value_kernel -kernel \
  run -kernel
expect_usage_error missing_flag_value_m -m \
  run -kernel "$WORK/not-elf.bin" -m
expect_usage_error missing_flag_value_icount_limit --icount-limit \
  run -kernel "$WORK/not-elf.bin" --icount-limit
expect_usage_error bad_number_m -m \
  run -kernel "$WORK/not-elf.bin" -m lots
expect_usage_error bad_number_icount_limit --icount-limit \
  run -kernel "$WORK/not-elf.bin" --icount-limit -1
expect_usage_error m_zero -m \
  run -kernel "$WORK/not-elf.bin" -m 0
expect_usage_error m_too_large -m \
  run -kernel "$WORK/not-elf.bin" -m 3073
expect_usage_error missing_kernel_flag -kernel \
  run -m 16
expect_usage_error unknown_command frobnicate \
  frobnicate
expect_usage_error record_missing_output "-o FILE" \
  record -kernel "$WORK/not-elf.bin"
expect_usage_error record_bad_kernel not-elf.bin \
  record -o "$WORK/x.rrvm" -kernel "$WORK/not-elf.bin"
expect_usage_error replay_missing_file no-such.rrvm \
  replay "$WORK/no-such.rrvm"
expect_usage_error replay_not_a_trace "not an rrvm trace" \
  replay "$WORK/not-elf.bin"
printf 'RRVMTRC\0\143\0\0\0' >"$WORK/v99.rrvm"
expect_usage_error replay_other_format_version "format version 99" \
  replay "$WORK/v99.rrvm"
head -c 10 "$WORK/v99.rrvm" >"$WORK/short.rrvm"
expect_usage_error replay_truncated_header "offset 8" \
  replay "$WORK/short.rrvm"
expect_usage_error trace_info_not_a_trace "not an rrvm trace" \
  trace info "$WORK/not-elf.bin"
expect_usage_error replay_unknown_option --frob \
  replay --frob

echo "$passed passed, $failed failed"
((failed == 0))

#!/bin/bash
# kallsyms2elf.sh KALLSYMS2ELF: tools/kallsyms2elf on a small hand-written System.map, out of
# order, with code, data, a rodata symbol followed directly by code, gaps between the
# ranges, an absolute symbol, undefined entries and a module symbol. readelf checks the
# sections, sizes, bindings and types; gdb (if installed) names addresses and finds
# symbols by name. A malformed line is refused with its line number.
set -u
k2e=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check DESCRIPTION FILE REGEX
  grep -qE "$3" "$2" || { echo "FAIL: $1 (no /$3/ in:)"; cat "$2"; fail=1; }
}
printf '%s\n' \
  'c1000040 T global_fn' 'c1000000 T startup_32' 'c1000000 T _text' 'c1000010 t local_fn' \
  'c1000080 W weak_fn' 'c10000c0 T _etext' 'c1400000 D _sdata' 'c1400000 d local_var' \
  'c1400010 D global_var' 'c1400040 B bss_var' 'c1400100 r ro_var' \
  'c1400200 T text_after_data' 'c1800000 T _sinittext' 'c1800020 T init_fn' \
  'c1800040 T _einittext' '00000010 A abs_sym' '00000000 U undefined_sym' \
  '00000000 w weak_undefined' >"$tmp/map"
printf 'c1000050 t module_fn\t[some_module]\n' >>"$tmp/map"
"$k2e" "$tmp/map" "$tmp/sym.elf" >"$tmp/summary" || { echo "FAIL: kallsyms2elf failed"; exit 1; }
cat "$tmp/summary"
check "summary" "$tmp/summary" "16 symbols \(10 code, 5 data, 1 absolute\) in 4 sections; skipped 2 undefined and 1 module"
readelf -hSs "$tmp/sym.elf" >"$tmp/readelf" 2>&1 || { echo "FAIL: readelf refuses the file"; cat "$tmp/readelf"; exit 1; }
check "ELF32 i386" "$tmp/readelf" "Class: +ELF32"
check "ELF32 i386" "$tmp/readelf" "Machine: +Intel 80386"
check "entry at startup_32" "$tmp/readelf" "Entry point address: +0xc1000000"
# code up to _etext, rounded up to a page; data ends where the code after it starts
check ".text range" "$tmp/readelf" "\.text +NOBITS +c1000000 [0-9a-f]+ 001000 00 +AX"
check ".data range" "$tmp/readelf" "\.data +NOBITS +c1400000 [0-9a-f]+ 000200 00 +WA"
check "unnamed code range" "$tmp/readelf" "\.text\.3 +NOBITS +c1400200 [0-9a-f]+ 000e00 00 +AX"
check ".init.text range" "$tmp/readelf" "\.init\.text +NOBITS +c1800000 [0-9a-f]+ 001000 00 +AX"
# sizes reach the next address; locals come first (sh_info = 4: null + 3 locals)
check "symtab locals" "$tmp/readelf" "\.symtab +SYMTAB .* 10 +6 +4 +4$"
check "local function" "$tmp/readelf" "c1000010 +48 FUNC +LOCAL +DEFAULT +1 local_fn$"
check "global function" "$tmp/readelf" "c1000040 +64 FUNC +GLOBAL +DEFAULT +1 global_fn$"
check "weak function" "$tmp/readelf" "c1000080 +64 FUNC +WEAK +DEFAULT +1 weak_fn$"
check "end marker" "$tmp/readelf" "c10000c0 +0 FUNC +GLOBAL +DEFAULT +1 _etext$"
check "rodata up to the code" "$tmp/readelf" "c1400100 +256 OBJECT +LOCAL +DEFAULT +2 ro_var$"
check "bss object" "$tmp/readelf" "c1400040 +192 OBJECT +GLOBAL +DEFAULT +2 bss_var$"
check "absolute" "$tmp/readelf" "00000010 +0 NOTYPE +GLOBAL +DEFAULT +ABS abs_sym$"
grep -qE "module_fn|undefined_sym|weak_undefined" "$tmp/readelf" &&
  { echo "FAIL: skipped entries in the symbol table"; fail=1; }

if command -v gdb >/dev/null; then
  gdb -batch -nx -ex 'info symbol 0xc1000045' -ex 'info symbol 0xc1400105' \
    -ex 'info address init_fn' -ex 'break global_fn' -ex 'print &global_var' \
    "$tmp/sym.elf" >"$tmp/gdb" 2>&1
  check "gdb names a code address" "$tmp/gdb" "^global_fn \+ 5 in section \.text$"
  check "gdb names a data address" "$tmp/gdb" "^ro_var \+ 5 in section \.data$"
  check "gdb finds a function" "$tmp/gdb" "Symbol \"init_fn\" is at 0xc1800020"
  check "gdb breaks by name" "$tmp/gdb" "^Breakpoint 1 at 0xc1000040$"
  check "gdb data symbol" "$tmp/gdb" "data variable, no debug info.*0xc1400010 <global_var>"
else
  echo "(gdb not installed: gdb checks skipped)"
fi

# Frame descriptions from a kernel image: a function with the ftrace NOP, a scheduled
# instruction inside its frame-pointer prologue, two saved registers and an epilogue; a
# leaf without a frame (no FDE); an entry point (the backtrace ends there); a .cold part,
# which runs in its parent's frame; handle_exception, whose call of the C handler with
# pt_regs at ESP leads to the interrupted context.
cat >"$tmp/img.S" <<'S'
	.text
	.globl fp_fn, leaf_fn, entry_INT80_32, fp_fn.cold, handle_exception, end_marker
fp_fn:
	.byte 0x3e, 0x8d, 0x74, 0x26, 0x00
	push %ebp
	mov %eax, %ecx
	mov %esp, %ebp
	push %edi
	push %esi
	sub $8, %esp
	mov %ecx, (%esp)
	add $8, %esp
	pop %esi
	pop %edi
	pop %ebp
	ret
	.p2align 4
leaf_fn:
	mov 4(%esp), %eax
	ret
	.p2align 4
entry_INT80_32:
	push %eax
	call fp_fn
	pop %eax
	iret
	.p2align 4
fp_fn.cold:
	mov %ecx, %eax
	pop %ebp
	ret
	.p2align 4
handle_exception:
	push %ebx
	mov %esp, %eax
	call fp_fn
	pop %ebx
	iret
	.p2align 4
end_marker:
	ret
S
if gcc -m32 -nostdlib -static -no-pie -Wl,-Ttext=0xc1000000 -Wl,-e,fp_fn -o "$tmp/img.elf" \
  "$tmp/img.S" 2>"$tmp/img.err"; then
  nm -n "$tmp/img.elf" | grep -E " T (fp_fn|leaf_fn|entry_INT80_32|fp_fn\.cold|handle_exception|end_marker)$" >"$tmp/img.map"
  "$k2e" "$tmp/img.map" "$tmp/img.sym" "$tmp/img.elf" >"$tmp/img.summary" ||
    { echo "FAIL: kallsyms2elf with a kernel image failed"; fail=1; }
  cat "$tmp/img.summary"
  check "frame summary" "$tmp/img.summary" "frames of 2 of 5 functions \(2 epilogues, 2 saved registers, 1 \.cold parts, 1 entry points, 1 through pt_regs; 0 not in the image\)"
  readelf --debug-dump=frames "$tmp/img.sym" >"$tmp/frames" 2>&1
  cat "$tmp/frames"
  [ "$(grep -c " FDE " "$tmp/frames")" = 4 ] || { echo "FAIL: not exactly four FDEs"; fail=1; }
  check "FDE of fp_fn" "$tmp/frames" "FDE cie=00000000 pc=c1000000\.\.c1000020"
  check "after push %ebp" "$tmp/frames" "DW_CFA_advance_loc: 6 to c1000006"
  check "CFA = esp + 8" "$tmp/frames" "DW_CFA_def_cfa_offset: 8"
  check "ebp saved" "$tmp/frames" "DW_CFA_offset: r5 \(ebp\) at cfa-8"
  check "after mov %esp,%ebp" "$tmp/frames" "DW_CFA_advance_loc: 4 to c100000a"
  check "CFA = ebp + 8" "$tmp/frames" "DW_CFA_def_cfa_register: r5 \(ebp\)"
  check "edi saved" "$tmp/frames" "DW_CFA_offset: r7 \(edi\) at cfa-12"
  check "esi saved" "$tmp/frames" "DW_CFA_offset: r6 \(esi\) at cfa-16"
  check "at the ret" "$tmp/frames" "DW_CFA_def_cfa: r4 \(esp\) ofs 4"
  check "ebp restored at the ret" "$tmp/frames" "DW_CFA_same_value: r5 \(ebp\)"
  check "after the ret" "$tmp/frames" "DW_CFA_restore_state"
  check "entry point" "$tmp/frames" "FDE cie=00000000 pc=c1000030\.\.c1000040"
  check "entry point ends backtraces" "$tmp/frames" "DW_CFA_undefined: r8 \(eip\)"
  check "the .cold part in its parent's frame" "$tmp/frames" "FDE cie=00000000 pc=c1000040\.\.c1000050"
  check "the .cold part: CFA = ebp + 8" "$tmp/frames" "DW_CFA_def_cfa: r5 \(ebp\) ofs 8"
  check "handle_exception" "$tmp/frames" "FDE cie=00000000 pc=c1000050\.\.c1000060"
  check "at its call: CFA = pt_regs + 60" "$tmp/frames" "DW_CFA_advance_loc: 3 to c1000053"
  check "pt_regs: CFA" "$tmp/frames" "DW_CFA_def_cfa: r4 \(esp\) ofs 60"
  check "pt_regs: eip" "$tmp/frames" "DW_CFA_offset: r8 \(eip\) at cfa-12"
  check "pt_regs: ebx" "$tmp/frames" "DW_CFA_offset: r3 \(ebx\) at cfa-60"
  check "pt_regs: ebp, 0 from user mode" "$tmp/frames" "DW_CFA_val_expression: r5 \(ebp\) \(DW_OP_breg4 \(esp\): 52; DW_OP_deref; DW_OP_lit3; DW_OP_and; DW_OP_bra: 6; DW_OP_breg4 \(esp\): 20; DW_OP_deref; DW_OP_skip: 1; DW_OP_lit0\)"
  check "after the call" "$tmp/frames" "DW_CFA_advance_loc: 6 to c1000059"
  grep -q "pc=c1000020" "$tmp/frames" && { echo "FAIL: an FDE for the frameless leaf"; fail=1; }
  "$k2e" "$tmp/img.map" "$tmp/img.sym" "$tmp/img.S" >/dev/null 2>"$tmp/img.err"
  [ $? = 1 ] && grep -q "not an ELF32 i386 image" "$tmp/img.err" ||
    { echo "FAIL: a kernel image that is no ELF file not refused"; cat "$tmp/img.err"; fail=1; }
else
  echo "FAIL: cannot assemble the test image with gcc -m32"; cat "$tmp/img.err"; fail=1
fi

printf 'c1000000 T ok\nc10000zz T bad\n' >"$tmp/bad"
"$k2e" "$tmp/bad" "$tmp/bad.elf" 2>"$tmp/bad.err"
[ $? = 1 ] && grep -q "line 2" "$tmp/bad.err" ||
  { echo "FAIL: malformed line not refused with its number"; cat "$tmp/bad.err"; fail=1; }
printf '1c1000000 T too_wide\n' | "$k2e" - "$tmp/bad.elf" 2>"$tmp/bad.err"
[ $? = 1 ] || { echo "FAIL: a 33-bit address accepted"; fail=1; }
"$k2e" "$tmp/map" >/dev/null 2>&1
[ $? = 2 ] || { echo "FAIL: usage error not status 2"; fail=1; }

[ $fail = 0 ] && echo "PASS: kallsyms2elf rebuilds sections and symbols gdb reads"
exit $fail

/* World switch between the monitor (C) and translated code (CCFs).
 *
 * uint32_t ccf_enter(struct cpu *cpu, const void *host_pc)
 *   Saves the monitor's callee-saved registers, loads the guest state from *cpu into the
 *   host registers of the register mapping (docs/ARCHITECTURE.md) and jumps to host_pc.
 * ccf_exit
 *   Jumped to (not called) by exit stubs once they have stored eip and the exit reason in
 *   *cpu; stores the guest registers back and returns the exit reason from ccf_enter.
 * ccf_inline_call
 *   Called by a CCF (r10 = the decoded instruction, r9d = instructions charged from it on;
 *   cpu.eip stored) to run one helper-class instruction in C without leaving the block:
 *   stores the guest state into *cpu, calls ccf_inline_insn (hv/monitor.c) and either
 *   reloads the state and returns into the CCF, or leaves through ccf_exit's tail with
 *   the exit reason that function stored.
 *
 * Register mapping while a CCF runs:
 *   eax ecx edx ebx ebp esi edi = guest EAX ECX EDX EBX EBP ESI EDI (upper halves zero)
 *   r12d = guest ESP   r15 = struct cpu *   r14 = base of the current linear view (hv/mmu.h)
 *   r13 = 44 (shift count: 32-bit shrx uses 44&31=12 for the page number, 64-bit shrx
 *         uses 44 for the budget range check)   r11 = instruction budget
 *   r8 r9 r10 = scratch   rsp = monitor stack   RFLAGS arith+DF = guest's
 */
#define __ASSEMBLER__ 1
#include "hv/cpu.h"

/* The guest's general registers between their host registers and struct cpu. */
.macro store_guest_gprs
    mov %eax, CPU_OFF_GPR+0(%r15)
    mov %ecx, CPU_OFF_GPR+4(%r15)
    mov %edx, CPU_OFF_GPR+8(%r15)
    mov %ebx, CPU_OFF_GPR+12(%r15)
    mov %r12d, CPU_OFF_GPR+16(%r15)
    mov %ebp, CPU_OFF_GPR+20(%r15)
    mov %esi, CPU_OFF_GPR+24(%r15)
    mov %edi, CPU_OFF_GPR+28(%r15)
.endm

.macro load_guest_gprs
    mov CPU_OFF_GPR+0(%r15), %eax
    mov CPU_OFF_GPR+4(%r15), %ecx
    mov CPU_OFF_GPR+8(%r15), %edx
    mov CPU_OFF_GPR+12(%r15), %ebx
    mov CPU_OFF_GPR+16(%r15), %r12d
    mov CPU_OFF_GPR+20(%r15), %ebp
    mov CPU_OFF_GPR+24(%r15), %esi
    mov CPU_OFF_GPR+28(%r15), %edi
.endm

    .text
    .globl ccf_enter
    .type ccf_enter, @function
ccf_enter:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    sub $8, %rsp
    mov %rdi, %r15
    mov %rsp, CPU_OFF_HOST_RSP(%r15)
    mov %rsi, %r8
    mov CPU_OFF_VIEW(%r15), %r14
    mov CPU_OFF_BUDGET(%r15), %r11
    mov $44, %r13d
    pushq CPU_OFF_HOSTFLAGS(%r15)
    popfq
    load_guest_gprs
    jmp *%r8
    .size ccf_enter, .-ccf_enter

    .globl ccf_exit
    .type ccf_exit, @function
ccf_exit:
    store_guest_gprs
    mov %r11, CPU_OFF_BUDGET(%r15)
    pushfq
    popq CPU_OFF_HOSTFLAGS(%r15)
    cld
ccf_exit_stored:
    mov CPU_OFF_EXIT_REASON(%r15), %eax
    mov CPU_OFF_HOST_RSP(%r15), %rsp
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .size ccf_exit, .-ccf_exit

    .globl ccf_inline_call
    .type ccf_inline_call, @function
ccf_inline_call:
    store_guest_gprs
    mov %r11, CPU_OFF_BUDGET(%r15)
    pushfq
    popq CPU_OFF_HOSTFLAGS(%r15)
    cld
    /* a CCF runs with rsp 16-byte aligned (ccf_enter); the call into here pushed 8 */
    sub $8, %rsp
    mov %r15, %rdi
    mov %r10, %rsi
    mov %r9d, %edx
    call ccf_inline_insn
    add $8, %rsp
    test %eax, %eax
    jnz ccf_exit_stored
    /* the guest's arithmetic flags and DF back without POPFQ (slow, and it would also
     * load the host's IF/TF/AC): DF by STD (C returned with it clear), OF by an ADD that
     * overflows exactly when it was set, SF ZF AF PF CF by SAHF */
    mov CPU_OFF_HOSTFLAGS(%r15), %rax
    test $0x400, %eax
    jz 1f
    std
1:  mov %eax, %ecx
    shr $11, %ecx
    and $1, %ecx
    mov %al, %ah
    mov %cl, %al
    add $0x7f, %al
    sahf
    mov CPU_OFF_BUDGET(%r15), %r11
    mov CPU_OFF_VIEW(%r15), %r14
    load_guest_gprs
    ret
    .size ccf_inline_call, .-ccf_inline_call

    .section .note.GNU-stack,"",@progbits

/* minios: interrupt/exception stubs, SYSENTER entry, SYSEXIT/IRET return paths, task switch. */
#define KDATA 0x10
#define VEC_SYSENTER 0x100

	.section .text

	.macro ISR_NOERR n
	.globl isr_\n
isr_\n:
	pushl $0
	pushl $\n
	jmp isr_common
	.endm
	.macro ISR_ERR n
	.globl isr_\n
isr_\n:
	pushl $\n
	jmp isr_common
	.endm

	ISR_NOERR 0
	ISR_NOERR 1
	ISR_NOERR 2
	ISR_NOERR 3
	ISR_NOERR 4
	ISR_NOERR 5
	ISR_NOERR 6
	ISR_NOERR 7
	ISR_ERR 8
	ISR_NOERR 9
	ISR_ERR 10
	ISR_ERR 11
	ISR_ERR 12
	ISR_ERR 13
	ISR_ERR 14
	ISR_NOERR 15
	ISR_NOERR 16
	ISR_ERR 17
	ISR_NOERR 18
	ISR_NOERR 19
	ISR_NOERR 20
	ISR_NOERR 21
	ISR_NOERR 22
	ISR_NOERR 23
	ISR_NOERR 24
	ISR_NOERR 25
	ISR_NOERR 26
	ISR_NOERR 27
	ISR_NOERR 28
	ISR_NOERR 29
	ISR_NOERR 30
	ISR_NOERR 31
	ISR_NOERR 32
	ISR_NOERR 33
	ISR_NOERR 34
	ISR_NOERR 35
	ISR_NOERR 36
	ISR_NOERR 37
	ISR_NOERR 38
	ISR_NOERR 39
	ISR_NOERR 40
	ISR_NOERR 41
	ISR_NOERR 42
	ISR_NOERR 43
	ISR_NOERR 44
	ISR_NOERR 45
	ISR_NOERR 46
	ISR_NOERR 47
	ISR_NOERR 128

	.section .rodata
	.align 4
	.globl isr_table
isr_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
	.long isr_\n
	.endr

	.section .text
/* Frame layout (struct frame in minios.c): edi esi ebp kesp ebx edx ecx eax gs fs es ds
   vec err eip cs eflags uesp uss. */
isr_common:
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	pushal
	movl $KDATA, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	pushl %esp
	call trap_handler
	addl $4, %esp
	cmpl $VEC_SYSENTER, 48(%esp)
	je sysexit_return
	.globl trap_return
trap_return:
	popal
	popl %gs
	popl %fs
	popl %es
	popl %ds
	addl $8, %esp
	iret

/* SYSENTER: ESP = SYSENTER_ESP (this task's kernel stack top), IF = 0.
   User ABI: eax = number, ebx/esi/edi = arguments, ecx = user ESP, edx = return EIP. */
	.globl sysenter_entry
sysenter_entry:
	pushl $0x23
	pushl %ecx
	pushfl
	orl $0x200, (%esp)
	pushl $0x1B
	pushl %edx
	pushl $0
	pushl $VEC_SYSENTER
	jmp isr_common

sysexit_return:
	popal
	popl %gs
	popl %fs
	popl %es
	popl %ds
	addl $8, %esp
	movl (%esp), %edx	/* user EIP */
	movl 12(%esp), %ecx	/* user ESP */
	andl $~0x200, 8(%esp)
	addl $8, %esp
	popfl			/* user arithmetic flags, IF still 0 */
	addl $8, %esp
	sti
	sysexit

/* switch_to(uint32_t *save_esp, uint32_t new_esp) */
	.globl switch_to
switch_to:
	movl 4(%esp), %eax
	movl 8(%esp), %edx
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, (%eax)
	movl %edx, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* load_segments(): reload CS/DS/ES/FS/GS/SS after LGDT. */
	.globl load_segments
load_segments:
	ljmp $0x08, $1f
1:	movl $KDATA, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	ret
	.section .note.GNU-stack, "", @progbits

/* IDT stubs for all 256 vectors, the common trap entry, setjmp/longjmp. */
	.section .text
	.globl sys_stubs
	.align 16
sys_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17)
	.else
	pushl $0
	.endif
	pushl $vec
	jmp sys_common
	.set vec, vec + 1
	.endr

sys_common:
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	pushal
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	cld
	pushl %esp
	call sys_trap
	addl $4, %esp
	popal
	popl %gs
	popl %fs
	popl %es
	popl %ds
	addl $8, %esp
	iret

	.globl sys_setjmp
	.type sys_setjmp, @function
sys_setjmp:
	movl 4(%esp), %eax
	movl %ebx, 0(%eax)
	movl %esi, 4(%eax)
	movl %edi, 8(%eax)
	movl %ebp, 12(%eax)
	leal 4(%esp), %ecx
	movl %ecx, 16(%eax)
	movl (%esp), %ecx
	movl %ecx, 20(%eax)
	xorl %eax, %eax
	ret

	.globl sys_longjmp
	.type sys_longjmp, @function
sys_longjmp:
	movl 4(%esp), %edx
	movl 8(%esp), %eax
	movl $0x10, %ecx
	movl %ecx, %ds
	movl %ecx, %es
	movl %ecx, %fs
	movl %ecx, %gs
	movl %ecx, %ss
	movl 0(%edx), %ebx
	movl 4(%edx), %esi
	movl 8(%edx), %edi
	movl 12(%edx), %ebp
	movl 16(%edx), %esp
	pushl $2
	popfl
	jmp *20(%edx)

	/* Return address pushed on the user stack by sys_run_user. */
	.globl sys_user_ret_stub
sys_user_ret_stub:
	int $0x80
	jmp sys_user_ret_stub
	.section .note.GNU-stack, "", @progbits

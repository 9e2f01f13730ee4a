/* Stack instruction helpers (called from insn_stack.c with cdecl). */
	.text
	.globl ret_imm_fn, enter_test, pusha_test, callret_test
/* uint32_t ret_imm_fn(uint32_t a, uint32_t b): callee pops its 8 bytes (stdcall). */
ret_imm_fn:
	movl 4(%esp), %eax
	imull 8(%esp), %eax
	addl $0x1111, %eax
	ret $8

/* uint32_t enter_test(uint32_t *out): runs enter with nesting levels 0..3 and leave;
 * stores the frame offsets relative to the entry esp into out[0..7]. */
enter_test:
	pushl %ebp
	pushl %ebx
	pushl %esi
	movl 16(%esp), %esi
	movl %esp, %ebx
	movl $0x5a5a0000, %ebp
	enter $16, $0
	movl %ebx, %eax; subl %esp, %eax; movl %eax, 0(%esi)
	movl %ebx, %eax; subl %ebp, %eax; movl %eax, 4(%esi)
	enter $8, $1
	movl %ebx, %eax; subl %esp, %eax; movl %eax, 8(%esi)
	movl %ebx, %eax; subl %ebp, %eax; movl %eax, 12(%esi)
	enter $4, $3
	movl %ebx, %eax; subl %esp, %eax; movl %eax, 16(%esi)
	movl -4(%ebp), %eax; subl %ebx, %eax; movl %eax, 20(%esi)
	movl -8(%ebp), %eax; subl %ebx, %eax; movl %eax, 24(%esi)
	leave
	leave
	leave
	movl %ebx, %eax; subl %esp, %eax; movl %eax, 28(%esi)
	movl %ebp, %eax
	movl %ebx, %esp
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* void pusha_test(uint32_t *out): pusha/popa round trip and the pushed image. */
pusha_test:
	pushl %ebp
	movl %esp, %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 8(%ebp), %edi
	pushl %edi
	movl $0x11111111, %eax
	movl $0x22222222, %ecx
	movl $0x33333333, %edx
	movl $0x44444444, %ebx
	movl $0x66666666, %esi
	pushal
	movl %esp, %eax
	/* copy the 8 pushed dwords, making esp relative */
	movl 0(%eax), %ecx; subl %edi, %ecx; movl %ecx, 0(%edi) /* edi (= out) */
	movl 4(%eax), %ecx; movl %ecx, 4(%edi)
	movl 8(%eax), %ecx; subl %ebp, %ecx; movl %ecx, 8(%edi)
	movl 12(%eax), %ecx; subl %eax, %ecx; movl %ecx, 12(%edi) /* esp before pusha - after */
	movl 16(%eax), %ecx; movl %ecx, 16(%edi)
	movl 20(%eax), %ecx; movl %ecx, 20(%edi)
	movl 24(%eax), %ecx; movl %ecx, 24(%edi)
	movl 28(%eax), %ecx; movl %ecx, 28(%edi)
	movl $0xdeadbeef, 12(%esp)	/* popa ignores the esp slot */
	xorl %eax, %eax
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %ebx, %ebx
	xorl %esi, %esi
	popal
	popl %edi
	addl %ecx, %eax
	xorl %edx, %eax
	addl %ebx, %eax
	xorl %esi, %eax
	movl %eax, 32(%edi)
	pushw $0x1234	/* 16-bit push/pop */
	popw %ax
	movl %eax, 36(%edi)
	pushl $-5	/* push imm8 sign-extended */
	popl 40(%edi)	/* pop to memory */
	pushl 40(%edi)	/* push from memory */
	popl %eax
	movl %eax, 44(%edi)
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* uint32_t callret_test(uint32_t x): call/ret through nested local calls. */
callret_test:
	movl 4(%esp), %eax
	call 1f
	addl $3, %eax
	ret
1:	imull $7, %eax
	call 2f
	ret
2:	xorl $0x5555, %eax
	pushl $3f	/* push a return address manually, then ret to it */
	ret
3:	subl $1, %eax
	ret
	.section .note.GNU-stack, "", @progbits

/* Multiboot v1 entry for the rrvm guest test kernels. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-align modules, provide memory info */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.section .text
	.globl _start
	.type _start, @function
_start:
	cli
	cld
	movl $stack_top, %esp
	movl %eax, %esi		/* multiboot magic */
	movl %ebx, %edx		/* multiboot info */
	/* zero .bss */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	pushl %edx
	pushl %esi
	call kmain
	pushl %eax
	call guest_exit
1:	cli
	hlt
	jmp 1b

	.section .bss
	.align 16
stack_bottom:
	.skip 65536
stack_top:
	.section .note.GNU-stack, "", @progbits

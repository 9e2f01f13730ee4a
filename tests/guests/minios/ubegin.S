/* Start of the user-mode code window (mapped user in every task's page directory).
   Files linked between ubegin.S and uend.S put their code in .text.user*. */
	.section .text.user, "ax"
	.balign 4096
	.globl user_begin
user_begin:
/* int u_sysenter(int nr, int a, int b, int c): system call through SYSENTER.
   SYSEXIT returns to EDX with ESP = ECX, so the stub saves ECX/EDX itself. */
	.globl u_sysenter
u_sysenter:
	pushl %ebx
	pushl %esi
	pushl %edi
	pushl %ebp
	movl 20(%esp), %eax
	movl 24(%esp), %ebx
	movl 28(%esp), %esi
	movl 32(%esp), %edi
	pushl %ecx
	pushl %edx
	movl %esp, %ecx
	movl $1f, %edx
	sysenter
1:	popl %edx
	popl %ecx
	popl %ebp
	popl %edi
	popl %esi
	popl %ebx
	ret
	.section .note.GNU-stack, "", @progbits

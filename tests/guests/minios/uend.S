/* End of the user-mode code window. */
	.section .text.user.zend, "ax"
	.balign 4096
	.globl user_end
user_end:
	.section .note.GNU-stack, "", @progbits

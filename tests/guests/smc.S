/* Self-modifying code helpers. */
	.text
	.globl smc_imm_fn, smc_same_block, smc_op_fn, smc_hot_fn
/* uint32_t smc_imm_fn(void): returns its immediate (patched at smc_imm_fn+1). */
smc_imm_fn:
	movl $0x11111111, %eax
	ret

/* uint32_t smc_same_block(uint32_t v): patches the immediate of an instruction later
 * in the same basic block, then executes it: returns v. */
smc_same_block:
	movl 4(%esp), %ecx
	movl %ecx, 1f+1
1:	movl $0, %eax
	ret

/* uint32_t smc_hot_fn(uint32_t x): x + imm, the imm byte at smc_hot_imm is patched. */
	.globl smc_hot_imm
smc_hot_fn:
	movl 4(%esp), %eax
	addl $1, %eax
	.set smc_hot_imm, . - 1
	ret

/* On a page of its own: uint32_t smc_op_fn(uint32_t x): x + 5; the ModRM byte at
 * smc_op_modrm is patched to turn the add into a sub/xor. */
	.section .text.page2, "ax"
	.p2align 12
	.globl smc_op_modrm
	.skip 64, 0x90
smc_op_fn:
	movl 4(%esp), %eax
	.set smc_op_modrm, . + 1
	addl $5, %eax
	ret
	.p2align 12
	.section .note.GNU-stack, "", @progbits
